//! EMV payment cards (EMV Book 1 and 3), contact or contactless: PSE/PPSE directory, application
//! selection, GET PROCESSING OPTIONS with the card's PDOL, READ RECORD over the AFL, and the PAN
//! and expiry date from tag 5A / 5F24 or the track 2 equivalent data (57).
//!
//! The PAN stays in memory inside [`Pan`], which prints masked and is wiped on drop: logs and
//! storage get [`Pan::masked`] or a keyed [`Pan::token`], never the number.

use kiosk_hal::card_reader::{CardReader, CardReaderError, ChipInterface, DeviceErrorKind};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::apdu::{transmit_apdu, ApduError, CommandApdu, ResponseApdu, StatusError};
use super::tlv::{self, Tlv};

/// Contact directory (PSE) and contactless directory (PPSE).
const PSE: &[u8] = b"1PAY.SYS.DDF01";
const PPSE: &[u8] = b"2PAY.SYS.DDF01";
/// Tried in order when a card has no directory: Mir, Visa, Mastercard, Maestro, UnionPay.
const KNOWN_AIDS: [&[u8]; 5] = [
    &[0xA0, 0x00, 0x00, 0x06, 0x58, 0x10, 0x10],
    &[0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10],
    &[0xA0, 0x00, 0x00, 0x00, 0x04, 0x10, 0x10],
    &[0xA0, 0x00, 0x00, 0x00, 0x04, 0x30, 0x60],
    &[0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01],
];
/// Records read at most (AFL entries can name up to 254 per SFI; real cards have a handful).
const MAX_RECORDS: usize = 64;
/// Directory records read at most.
const MAX_DIRECTORY_RECORDS: u8 = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmvError {
    #[error("no payment application found on the card: it may not be a bank card")]
    NoApplication,
    #[error("the card refused {what}: {status}. Remove the card and try again")]
    Chip { what: &'static str, status: StatusError },
    #[error("the card's data is malformed: {0}")]
    Malformed(String),
    #[error("the card's records hold no card number (tags 5A / 57)")]
    NoPan,
    #[error("the card number read from the card is not valid (length or Luhn check)")]
    BadPan,
    #[error("no card in the slot or on the antenna: insert or tap the card")]
    NoCard,
    #[error("card exchange failed: {0}")]
    Apdu(#[from] ApduError),
    #[error("card reader failed: {0}")]
    Reader(#[from] CardReaderError),
}

/// A primary account number. Displays and debugs masked (first 6, last 4); wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(Zeroizing<String>);

impl Pan {
    /// Accepts 12–19 digits passing the Luhn check.
    pub fn new(digits: &str) -> Option<Self> {
        let ok = (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && luhn(digits);
        ok.then(|| Self(Zeroizing::new(digits.to_owned())))
    }

    /// `411111******1111`: what logs, screens and storage may hold.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        let head = self.0.get(..6).unwrap_or_default();
        let tail = self.0.get(n.saturating_sub(4)..).unwrap_or_default();
        format!("{head}{}{tail}", "*".repeat(n.saturating_sub(10)))
    }

    /// A stable token for the card: hex SHA-256 of a kiosk secret and the PAN (keyed, so the
    /// small PAN space cannot be searched without the secret), first 16 bytes.
    pub fn token(&self, secret: &[u8]) -> String {
        let mut hash = Sha256::new();
        hash.update(secret);
        hash.update(self.0.as_bytes());
        hex::encode(hash.finalize().get(..16).unwrap_or_default())
    }

    /// The digits, for in-memory processing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl std::fmt::Display for Pan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// What was read from a bank card.
#[derive(Debug)]
pub struct BankCardRead {
    pub pan: Pan,
    /// `YYMM`.
    pub expiry: String,
    pub aid: Vec<u8>,
    pub label: Option<String>,
    pub interface: ChipInterface,
}

/// One directory entry: AID, label, priority (lower first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub aid: Vec<u8>,
    pub label: Option<String>,
    pub priority: u8,
}

/// Applications listed in directory data (PPSE FCI, or PSE records): every `61` entry.
pub fn parse_directory(data: &[u8]) -> Result<Vec<Application>, EmvError> {
    let mut apps = Vec::new();
    collect_entries(&tlv::parse_all(data).map_err(malformed)?, &mut apps, 0)?;
    apps.sort_by_key(|a| a.priority);
    Ok(apps)
}

fn collect_entries(items: &[Tlv<'_>], apps: &mut Vec<Application>, depth: usize) -> Result<(), EmvError> {
    if depth > 6 {
        return Err(malformed("directory nested too deep"));
    }
    for item in items {
        if item.tag == 0x61 {
            let children = item.children().map_err(malformed)?;
            let get = |tag| children.iter().find(|c| c.tag == tag).map(|c| c.value);
            if let Some(aid) = get(0x4F).filter(|a| (5..=16).contains(&a.len())) {
                apps.push(Application {
                    aid: aid.to_vec(),
                    label: get(0x50).map(|l| String::from_utf8_lossy(l).trim().to_owned()),
                    // Bits 1–4 are the priority; 0 means none, which sorts last.
                    priority: get(0x87).and_then(|p| p.first()).map_or(0x10, |p| match p & 0x0F {
                        0 => 0x10,
                        n => n,
                    }),
                });
            }
        } else if item.is_constructed() {
            collect_entries(&item.children().map_err(malformed)?, apps, depth + 1)?;
        }
    }
    Ok(())
}

/// A data object list: `(tag, length)` pairs.
pub fn parse_dol(dol: &[u8]) -> Result<Vec<(u32, usize)>, EmvError> {
    let mut out = Vec::new();
    let mut rest = dol;
    while !rest.is_empty() {
        let (tag, after) = tlv::parse_tag(rest).map_err(malformed)?;
        let (&len, after) = after.split_first().ok_or_else(|| malformed("DOL ends after a tag"))?;
        out.push((tag, usize::from(len)));
        rest = after;
        if out.len() > 64 {
            return Err(malformed("DOL with more than 64 entries"));
        }
    }
    Ok(out)
}

/// The terminal's values for a PDOL, each cut or zero-padded to the length asked.
fn pdol_data(dol: &[(u32, usize)]) -> Vec<u8> {
    let mut unpredictable = [0u8; 4];
    rand::rngs::OsRng.fill_bytes(&mut unpredictable);
    let mut out = Vec::new();
    for &(tag, len) in dol {
        let value: &[u8] = match tag {
            0x9F66 => &[0x36, 0x00, 0x40, 0x00], // TTQ: contact and contactless EMV, online capable
            0x9F37 => &unpredictable,
            0x5F2A | 0x9F1A => &[0x06, 0x43], // rouble, Russia
            0x9F35 => &[0x14],               // terminal type: unattended, online only
            _ => &[],
        };
        let mut field = value.to_vec();
        field.resize(len, 0);
        out.extend(field);
    }
    out
}

/// AFL entries `(sfi, first record, last record)`.
pub fn parse_afl(afl: &[u8]) -> Result<Vec<(u8, u8, u8)>, EmvError> {
    if afl.len() % 4 != 0 {
        return Err(malformed("AFL length is not a multiple of 4"));
    }
    afl.chunks_exact(4)
        .map(|e| match e {
            [sfi, first, last, _] if (1..=30).contains(&(sfi >> 3)) && *first >= 1 && first <= last => {
                Ok((sfi >> 3, *first, *last))
            }
            _ => Err(malformed("AFL entry out of range")),
        })
        .collect()
}

/// Digits of compressed numeric (BCD, F-padded) data; `None` on a non-digit nibble.
fn bcd_digits(bytes: &[u8], stop_at_separator: bool) -> Option<(String, usize)> {
    let mut out = String::new();
    for (i, nibble) in bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]).enumerate() {
        match nibble {
            0..=9 => out.push(char::from(b'0' + nibble)),
            0x0D if stop_at_separator => return Some((out, i + 1)),
            0x0F => return Some((out, i)),
            _ => return None,
        }
    }
    Some((out, bytes.len() * 2))
}

/// PAN and expiry (`YYMM`) from tags 5A and 5F24, or from track 2 equivalent data (57).
pub fn pan_and_expiry(records: &[Tlv<'_>]) -> Result<(Pan, String), EmvError> {
    let find = |tag| records.iter().find(|t| t.tag == tag).map(|t| t.value);
    if let (Some(pan), Some(expiry)) = (find(0x5A), find(0x5F24)) {
        let (mut digits, _) = bcd_digits(pan, false).ok_or(EmvError::BadPan)?;
        let (date, _) = bcd_digits(expiry, false).ok_or_else(|| malformed("expiry is not BCD"))?;
        let pan = Pan::new(&digits);
        digits.zeroize();
        let yymm = date.get(..4).filter(|d| d.len() == 4).ok_or_else(|| malformed("expiry too short"))?;
        return Ok((pan.ok_or(EmvError::BadPan)?, yymm.to_owned()));
    }
    let track2 = find(0x57).ok_or(EmvError::NoPan)?;
    let mut nibbles: Vec<u8> = track2.iter().flat_map(|b| [b >> 4, b & 0x0F]).collect();
    let separator = nibbles.iter().position(|&n| n == 0x0D).ok_or_else(|| malformed("track 2 without separator"))?;
    let digits: Option<String> =
        nibbles.get(..separator).map(|p| p.iter().map(|&n| char::from(b'0' + n.min(9))).collect());
    let expiry: Option<String> = nibbles
        .get(separator + 1..separator + 5)
        .filter(|e| e.iter().all(|&n| n <= 9))
        .map(|e| e.iter().map(|&n| char::from(b'0' + n)).collect());
    let valid = nibbles.get(..separator).is_some_and(|p| p.iter().all(|&n| n <= 9));
    nibbles.zeroize();
    let mut digits = digits.filter(|_| valid).ok_or(EmvError::BadPan)?;
    let pan = Pan::new(&digits);
    digits.zeroize();
    Ok((pan.ok_or(EmvError::BadPan)?, expiry.ok_or_else(|| malformed("track 2 expiry missing"))?))
}

fn malformed(e: impl std::fmt::Display) -> EmvError {
    EmvError::Malformed(e.to_string())
}

/// Reads the bank card in the slot (`Contact`, the chip is powered here) or on the antenna.
pub fn read_bank_card(reader: &mut dyn CardReader, interface: ChipInterface) -> Result<BankCardRead, EmvError> {
    let no_card = |e: CardReaderError| match e {
        CardReaderError::Device { kind: DeviceErrorKind::NoCard | DeviceErrorKind::ContactlessNoCard, .. } => {
            EmvError::NoCard
        }
        other => EmvError::Reader(other),
    };
    match interface {
        ChipInterface::Contact => reader.power_on_contact().map(drop).map_err(no_card)?,
        ChipInterface::Contactless => reader.activate_contactless().map(drop).map_err(no_card)?,
    }
    let result = read_application(reader, interface);
    let off = match interface {
        ChipInterface::Contact => reader.power_off_contact(),
        ChipInterface::Contactless => reader.deactivate_contactless(),
    };
    if let Err(error) = off {
        tracing::warn!(%error, "could not power the card's chip off after reading");
    }
    let read = result?;
    tracing::info!(pan = %read.pan.masked(), ?interface, "bank card read");
    Ok(read)
}

fn select(reader: &mut dyn CardReader, iface: ChipInterface, name: &[u8]) -> Result<ResponseApdu, EmvError> {
    Ok(transmit_apdu(reader, iface, &CommandApdu::new(0x00, 0xA4, 0x04, 0x00).with_data(name.to_vec()).with_le(256))?)
}

fn read_record(reader: &mut dyn CardReader, iface: ChipInterface, sfi: u8, record: u8) -> Result<ResponseApdu, EmvError> {
    Ok(transmit_apdu(reader, iface, &CommandApdu::new(0x00, 0xB2, record, (sfi << 3) | 0x04).with_le(256))?)
}

/// The applications the card lists, or the known ones when it has no directory.
fn candidates(reader: &mut dyn CardReader, iface: ChipInterface) -> Result<Vec<Application>, EmvError> {
    let directory = if iface == ChipInterface::Contactless { PPSE } else { PSE };
    let fci = select(reader, iface, directory)?;
    let mut apps = Vec::new();
    if fci.sw == 0x9000 {
        apps = parse_directory(&fci.data)?;
        // A contact PSE lists its entries in records of the SFI named in tag 88.
        let sfi = tlv::find(&fci.data, 0x88).map_err(malformed)?.and_then(|t| t.value.first().copied());
        if let Some(sfi) = sfi.filter(|s| (1..=30).contains(s)) {
            for record in 1..=MAX_DIRECTORY_RECORDS {
                let r = read_record(reader, iface, sfi, record)?;
                if r.sw != 0x9000 {
                    break;
                }
                apps.extend(parse_directory(&r.data)?);
            }
            apps.sort_by_key(|a| a.priority);
        }
    }
    if apps.is_empty() {
        apps = KNOWN_AIDS.iter().map(|aid| Application { aid: aid.to_vec(), label: None, priority: 0x10 }).collect();
    }
    Ok(apps)
}

fn read_application(reader: &mut dyn CardReader, iface: ChipInterface) -> Result<BankCardRead, EmvError> {
    for app in candidates(reader, iface)? {
        let fci = select(reader, iface, &app.aid)?;
        if fci.sw != 0x9000 {
            continue;
        }
        let pdol = tlv::find(&fci.data, 0x9F38).map_err(malformed)?.map(|t| t.value.to_vec()).unwrap_or_default();
        let label = tlv::find(&fci.data, 0x50)
            .map_err(malformed)?
            .map(|t| String::from_utf8_lossy(t.value).trim().to_owned())
            .or(app.label.clone());
        let data = pdol_data(&parse_dol(&pdol)?);
        let mut command_data = vec![0x83];
        command_data.push(u8::try_from(data.len()).map_err(|_| malformed("PDOL asks for over 255 bytes"))?);
        command_data.extend(data);
        let gpo = transmit_apdu(reader, iface, &CommandApdu::new(0x80, 0xA8, 0x00, 0x00).with_data(command_data).with_le(256))?;
        let gpo_data = gpo.into_data().map_err(|status| EmvError::Chip { what: "GET PROCESSING OPTIONS", status })?;
        let (afl, mut found) = match tlv::parse_one(&gpo_data).map_err(malformed)? {
            // Format 1: AIP (2 bytes) then the AFL.
            (t, _) if t.tag == 0x80 => (t.value.get(2..).unwrap_or_default().to_vec(), Vec::new()),
            // Format 2: TLV objects; contactless cards may put 57/5A right here.
            (t, _) if t.tag == 0x77 => {
                let children = t.children().map_err(malformed)?;
                let afl = children.iter().find(|c| c.tag == 0x94).map(|c| c.value.to_vec()).unwrap_or_default();
                (afl, gpo_data.clone())
            }
            _ => return Err(malformed("GET PROCESSING OPTIONS answer is neither format 1 nor 2")),
        };
        let mut read = 0;
        for (sfi, first, last) in parse_afl(&afl)? {
            for record in first..=last {
                read += 1;
                if read > MAX_RECORDS {
                    return Err(malformed("AFL names too many records"));
                }
                let r = read_record(reader, iface, sfi, record)?;
                let data = r.into_data().map_err(|status| EmvError::Chip { what: "a record", status })?;
                found.extend(data);
            }
        }
        let mut flat = Vec::new();
        flatten(&tlv::parse_all(&found).map_err(malformed)?, &mut flat, 0);
        let result = pan_and_expiry(&flat);
        drop(flat);
        found.zeroize();
        let (pan, expiry) = result?;
        return Ok(BankCardRead { pan, expiry, aid: app.aid, label, interface: iface });
    }
    Err(EmvError::NoApplication)
}

/// Every primitive object under templates 70 / 77, in order.
fn flatten<'a>(items: &[Tlv<'a>], out: &mut Vec<Tlv<'a>>, depth: usize) {
    for item in items {
        if item.is_constructed() && depth < 4 {
            if let Ok(children) = item.children() {
                flatten(&children, out, depth + 1);
            }
        } else {
            out.push(*item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pan_masking_and_luhn() {
        let pan = Pan::new("4111111111111111").unwrap();
        assert_eq!(pan.masked(), "411111******1111");
        assert_eq!(format!("{pan} {pan:?}"), "411111******1111 Pan(411111******1111)");
        assert!(Pan::new("4111111111111112").is_none());
        assert!(Pan::new("41111").is_none());
        assert_ne!(pan.token(b"a"), pan.token(b"b"));
        assert_eq!(pan.token(b"a").len(), 32);
    }

    #[test]
    fn track2_and_tags() {
        let records = [0x57, 0x0B, 0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0xD3, 0x01, 0x22];
        let parsed = tlv::parse_all(&records).unwrap();
        let (pan, expiry) = pan_and_expiry(&parsed).unwrap();
        assert_eq!((pan.masked().as_str(), expiry.as_str()), ("411111******1111", "3012"));
        assert_eq!(parse_afl(&[0x08, 1, 2, 0, 0x10, 1, 1, 1]).unwrap(), [(1, 1, 2), (2, 1, 1)]);
        assert!(parse_afl(&[0x08, 2, 1, 0]).is_err());
        assert_eq!(parse_dol(&[0x9F, 0x66, 4, 0x5F, 0x2A, 2]).unwrap(), [(0x9F66, 4), (0x5F2A, 2)]);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_directory(&data);
            let _ = parse_dol(&data);
            let _ = parse_afl(&data);
            if let Ok(items) = tlv::parse_all(&data) {
                let _ = pan_and_expiry(&items);
            }
        }

        #[test]
        fn masked_pan_never_shows_the_middle(digits in "[0-9]{15}") {
            // Append the Luhn digit so the number is valid.
            let check = (0..10).map(|d| format!("{digits}{d}")).find(|p| luhn(p)).unwrap();
            let pan = Pan::new(&check).unwrap();
            let masked = pan.masked();
            prop_assert_eq!(&masked[6..12], "******");
            prop_assert_eq!(&masked[..6], &check[..6]);
        }
    }
}
