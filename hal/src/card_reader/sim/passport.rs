//! A simulated ICAO 9303 eMRTD chip: SELECT of the applet and of EF.COM/DG1/DG2/EF.SOD,
//! READ BINARY (B0, and B1 for offsets past 0x7FFF), Basic Access Control (GET CHALLENGE,
//! EXTERNAL AUTHENTICATE) and secure messaging around every command after it.
//!
//! [`VirtualPassport::new`] gives a BAC-protected chip whose EF.SOD is signed by the test DS of
//! [`super::pki::test_pki`]; builders give a plain chip, another signer, or faulty data.

use sha1::{Digest, Sha1};

use super::ber::tlv;
use super::chip_crypto::{self as cc, Key16};
use super::pki::{test_pki, TestPki};

/// AID of the eMRTD LDS1 application.
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
pub const FID_EF_COM: u16 = 0x011E;
pub const FID_EF_SOD: u16 = 0x011D;
pub const FID_DG1: u16 = 0x0101;
pub const FID_DG2: u16 = 0x0102;
/// Largest short-Le read many real chips accept.
pub const DEFAULT_MAX_READ: usize = 0xE7;

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_END_OF_FILE: [u8; 2] = [0x62, 0x82];
const SW_AUTH_FAILED: [u8; 2] = [0x63, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
const SW_SECURITY_NOT_SATISFIED: [u8; 2] = [0x69, 0x82];
const SW_NO_EF_SELECTED: [u8; 2] = [0x69, 0x86];
const SW_SM_OBJECTS_MISSING: [u8; 2] = [0x69, 0x87];
const SW_SM_OBJECTS_WRONG: [u8; 2] = [0x69, 0x88];
const SW_FILE_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
const SW_WRONG_P1P2: [u8; 2] = [0x6A, 0x86];
const SW_OFFSET_OUTSIDE: [u8; 2] = [0x6B, 0x00];
const SW_INS_UNKNOWN: [u8; 2] = [0x6D, 0x00];
const SW_CLA_UNKNOWN: [u8; 2] = [0x6E, 0x00];

/// How the chip refuses a READ BINARY asking for more than it sends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OversizeRead {
    /// `6700`, wrong length.
    WrongLength,
    /// `6Cxx`, with xx the length it would send.
    CorrectLe,
}

/// Misbehaviour of the chip itself (the reader's line faults are [`super::Faults`]).
#[derive(Debug, Clone, Default)]
pub struct ChipFaults {
    /// This many secure-messaging answers carry a wrong MAC.
    pub wrong_mac_replies: u32,
    /// DG2 is cut to this many bytes after signing (its header still declares the full length).
    pub truncate_dg2: Option<usize>,
    /// DG2's header declares 2 MiB, far more than a passport file holds.
    pub oversize_dg2: bool,
    /// One byte of DG2's image is changed after the SOD was signed.
    pub alter_dg2_after_signing: bool,
}

/// Where the chip is in Basic Access Control.
#[derive(Clone)]
enum Access {
    /// Nothing but the applet selection and BAC itself.
    Locked,
    /// GET CHALLENGE answered with this RND.IC.
    Challenged([u8; 8]),
    /// Secure messaging established.
    Secure { ks_enc: Key16, ks_mac: Key16, ssc: [u8; 8] },
}

/// A passport: the MRZ printed on its data page and the chip behind it.
#[derive(Clone)]
pub struct VirtualPassport {
    mrz_lines: Vec<String>,
    ef_com: Vec<u8>,
    dg1: Vec<u8>,
    dg2: Vec<u8>,
    sod: Vec<u8>,
    uid: Vec<u8>,
    max_read: usize,
    oversize: OversizeRead,
    applet_selected: bool,
    selected: Option<u16>,
    /// BAC's K.seed; `None` for a chip without access control.
    bac_seed: Option<Key16>,
    access: Access,
    /// State of the chip's random generator (deterministic: reproducible tests).
    random: u64,
    faults: ChipFaults,
}

// Holds personal data: never print it.
impl std::fmt::Debug for VirtualPassport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualPassport")
            .field("dg2_len", &self.dg2.len())
            .field("bac", &self.bac_seed.is_some())
            .finish_non_exhaustive()
    }
}

/// Decoded command APDU header and body.
struct Apdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    /// Ne; `None` when absent.
    le: Option<usize>,
}

fn parse_apdu(bytes: &[u8]) -> Option<Apdu<'_>> {
    let (header, body) = bytes.split_at_checked(4)?;
    let [cla, ins, p1, p2] = <[u8; 4]>::try_from(header).ok()?;
    let short_le = |b: u8| if b == 0 { 256 } else { usize::from(b) };
    let ext_le = |h: u8, l: u8| match u16::from_be_bytes([h, l]) {
        0 => 65536,
        n => usize::from(n),
    };
    let (data, le) = match body {
        [] => (&body[..0], None),
        [le] => (&body[..0], Some(short_le(*le))),
        [0, h, l] => (&body[..0], Some(ext_le(*h, *l))),
        [0, h, l, rest @ ..] => {
            let lc = usize::from(u16::from_be_bytes([*h, *l]));
            let data = rest.get(..lc)?;
            match rest.get(lc..)? {
                [] => (data, None),
                [h, l] => (data, Some(ext_le(*h, *l))),
                _ => return None,
            }
        }
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            let data = rest.get(..lc)?;
            match rest.get(lc..)? {
                [] => (data, None),
                [le] => (data, Some(short_le(*le))),
                _ => return None,
            }
        }
    };
    Some(Apdu { cla, ins, p1, p2, data, le })
}

fn with_sw(mut data: Vec<u8>, sw: [u8; 2]) -> Vec<u8> {
    data.extend_from_slice(&sw);
    data
}

impl VirtualPassport {
    /// A BAC-protected passport with this MRZ (TD3: two lines of 44) and face image (JPEG or
    /// JPEG 2000 bytes), its EF.SOD signed by the kiosk's test document signer.
    pub fn new(mrz_lines: Vec<String>, face_image: Vec<u8>) -> Self {
        let ef_com = build_ef_com();
        let dg1 = tlv(&[0x61], &tlv(&[0x5F, 0x1F], mrz_lines.concat().as_bytes()));
        let dg2 = build_dg2(&face_image);
        let bac_seed = Some(bac_seed(&mrz_lines));
        let mut passport = Self {
            mrz_lines,
            ef_com,
            dg1,
            dg2,
            sod: Vec::new(),
            uid: vec![0x08, 0x4B, 0x1D, 0x7E],
            max_read: DEFAULT_MAX_READ,
            oversize: OversizeRead::WrongLength,
            applet_selected: false,
            selected: None,
            bac_seed,
            access: Access::Locked,
            random: 0x4608_F919_8870_2212,
            faults: ChipFaults::default(),
        };
        passport.sign_with(test_pki());
        passport
    }

    /// Re-signs EF.SOD with another CSCA/DS pair (e.g. one the kiosk does not trust).
    pub fn signed_by(mut self, pki: &TestPki) -> Self {
        self.sign_with(pki);
        self
    }

    fn sign_with(&mut self, pki: &TestPki) {
        self.sod = match pki.sign_sod(&[(1, &self.dg1), (2, &self.dg2)]) {
            Ok(sod) => sod,
            Err(error) => {
                tracing::error!(%error, "simulated passport could not sign its SOD");
                Vec::new()
            }
        };
    }

    /// A chip without access control: files readable with plain APDUs.
    pub fn without_bac(mut self) -> Self {
        self.bac_seed = None;
        self
    }

    /// Applies faults of the chip's data (after signing, so the SOD no longer matches).
    pub fn with_chip_faults(mut self, faults: ChipFaults) -> Self {
        if let Some(len) = faults.truncate_dg2 {
            self.dg2.truncate(len);
        }
        if faults.oversize_dg2 {
            // 75 83 20 00 00: a 2 MiB DG2.
            if let Some(header) = self.dg2.get_mut(..5) {
                header.copy_from_slice(&[0x75, 0x83, 0x20, 0x00, 0x00]);
            }
        }
        if faults.alter_dg2_after_signing {
            if let Some(last) = self.dg2.last_mut() {
                *last ^= 0x01;
            }
        }
        self.faults = faults;
        self
    }

    /// Caps the bytes one READ BINARY returns, and says how larger requests are refused.
    pub fn with_max_read(mut self, max_read: usize, oversize: OversizeRead) -> Self {
        self.max_read = max_read.clamp(1, 256);
        self.oversize = oversize;
        self
    }

    pub fn mrz_lines(&self) -> &[String] {
        &self.mrz_lines
    }

    pub fn uid(&self) -> &[u8] {
        &self.uid
    }

    /// The files as the chip stores them, for tests comparing with what the host read.
    pub fn ef_com(&self) -> &[u8] {
        &self.ef_com
    }

    pub fn dg1(&self) -> &[u8] {
        &self.dg1
    }

    pub fn dg2(&self) -> &[u8] {
        &self.dg2
    }

    pub fn sod(&self) -> &[u8] {
        &self.sod
    }

    /// Field activation: the chip starts over, nothing selected, no session.
    pub fn reset(&mut self) {
        self.applet_selected = false;
        self.selected = None;
        self.access = Access::Locked;
    }

    /// Answers one command APDU (plain, or protected by secure messaging) with data + SW1 SW2.
    pub fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        let Some(apdu) = parse_apdu(command) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if apdu.cla == 0x0C {
            return self.process_secure(&apdu);
        }
        if apdu.cla != 0x00 {
            return SW_CLA_UNKNOWN.to_vec();
        }
        if self.bac_seed.is_some() {
            // A plain command ends any secure messaging session.
            if matches!(self.access, Access::Secure { .. }) {
                self.access = Access::Locked;
            }
            return match (apdu.ins, apdu.p1) {
                (0xA4, 0x04) => self.select(&apdu).to_vec(),
                (0x84, _) => self.get_challenge(&apdu),
                (0x82, _) => self.external_authenticate(&apdu),
                _ => SW_SECURITY_NOT_SATISFIED.to_vec(),
            };
        }
        self.process_plain(&apdu)
    }

    fn process_plain(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        match apdu.ins {
            0xA4 => self.select(apdu).to_vec(),
            0xB0 => self.read_binary(apdu),
            0xB1 => self.read_binary_odd(apdu),
            _ => SW_INS_UNKNOWN.to_vec(),
        }
    }

    fn next_random(&mut self) -> [u8; 8] {
        // xorshift64: reproducible, and a fresh value each time.
        let mut x = self.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        x.to_be_bytes()
    }

    fn get_challenge(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        if apdu.le != Some(8) || !apdu.data.is_empty() {
            return SW_WRONG_LENGTH.to_vec();
        }
        let rnd_ic = self.next_random();
        self.access = Access::Challenged(rnd_ic);
        with_sw(rnd_ic.to_vec(), SW_OK)
    }

    /// BAC mutual authentication, chip side (Doc 9303 Part 11 §4.3).
    fn external_authenticate(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let (Some(seed), Access::Challenged(rnd_ic)) = (self.bac_seed, self.access.clone()) else {
            return SW_SECURITY_NOT_SATISFIED.to_vec();
        };
        self.access = Access::Locked;
        let Some((e_ifd, m_ifd)) = apdu.data.split_at_checked(32).filter(|(_, m)| m.len() == 8) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let (k_enc, k_mac) = (cc::derive_key(&seed, 1), cc::derive_key(&seed, 2));
        if cc::retail_mac(&k_mac, &cc::pad(e_ifd)) != m_ifd {
            return SW_AUTH_FAILED.to_vec();
        }
        let s = cc::decrypt(&k_enc, e_ifd);
        let (Some(rnd_ifd), Some(got_ic), Some(k_ifd)) = (s.get(..8), s.get(8..16), s.get(16..32)) else {
            return SW_AUTH_FAILED.to_vec();
        };
        if got_ic != rnd_ic {
            return SW_AUTH_FAILED.to_vec();
        }
        let mut k_ic = [0u8; 16];
        k_ic[..8].copy_from_slice(&self.next_random());
        k_ic[8..].copy_from_slice(&self.next_random());
        let mut r = rnd_ic.to_vec();
        r.extend_from_slice(rnd_ifd);
        r.extend_from_slice(&k_ic);
        let e_ic = cc::encrypt(&k_enc, &r);
        let m_ic = cc::retail_mac(&k_mac, &cc::pad(&e_ic));
        let session_seed: Vec<u8> = k_ifd.iter().zip(k_ic).map(|(a, b)| a ^ b).collect();
        let mut ssc = [0u8; 8];
        ssc[..4].copy_from_slice(&rnd_ic[4..]);
        ssc[4..].copy_from_slice(rnd_ifd.get(4..8).unwrap_or(&[0; 4]));
        self.access = Access::Secure {
            ks_enc: cc::derive_key(&session_seed, 1),
            ks_mac: cc::derive_key(&session_seed, 2),
            ssc,
        };
        let mut out = e_ic;
        out.extend_from_slice(&m_ic);
        with_sw(out, SW_OK)
    }

    /// Unwraps a protected command, runs it, wraps the answer. Any SM error ends the session.
    fn process_secure(&mut self, apdu: &Apdu<'_>) -> Vec<u8> {
        let Access::Secure { ks_enc, ks_mac, mut ssc } = self.access.clone() else {
            return SW_SECURITY_NOT_SATISFIED.to_vec();
        };
        self.access = Access::Locked;
        let Some(objects) = parse_objects(apdu.data) else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        let find = |tag: u8| objects.iter().find(|(t, _, _)| *t == tag);
        let Some((_, _, mac)) = find(0x8E) else {
            return SW_SM_OBJECTS_MISSING.to_vec();
        };
        cc::increment(&mut ssc);
        let mut n = ssc.to_vec();
        n.extend(cc::pad(&[0x0C, apdu.ins, apdu.p1, apdu.p2]));
        for (tag, raw, _) in &objects {
            if matches!(tag, 0x85 | 0x87 | 0x97) {
                n.extend_from_slice(raw);
            }
        }
        if cc::retail_mac(&ks_mac, &cc::pad(&n)).as_slice() != *mac {
            return SW_SM_OBJECTS_WRONG.to_vec();
        }
        let odd = apdu.ins & 1 == 1;
        let data = match (find(0x87), find(0x85)) {
            (Some((_, _, [0x01, cryptogram @ ..])), None) => cc::unpad(&cc::decrypt(&ks_enc, cryptogram)),
            (None, Some((_, _, cryptogram))) => cc::unpad(&cc::decrypt(&ks_enc, cryptogram)),
            (None, None) => Some(Vec::new()),
            _ => None,
        };
        let Some(data) = data else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        let le = match find(0x97).map(|(_, _, v)| *v) {
            None => None,
            Some([0]) => Some(256),
            Some([n]) => Some(usize::from(*n)),
            Some([0, 0]) => Some(65536),
            Some([h, l]) => Some(usize::from(u16::from_be_bytes([*h, *l]))),
            Some(_) => return SW_SM_OBJECTS_WRONG.to_vec(),
        };
        let plain = Apdu { cla: 0, ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: &data, le };
        let answer = self.process_plain(&plain);
        let Some((body, sw)) = answer.split_at_checked(answer.len().saturating_sub(2)) else {
            return SW_SM_OBJECTS_WRONG.to_vec();
        };
        cc::increment(&mut ssc);
        let mut out = Vec::new();
        if !body.is_empty() {
            let cryptogram = cc::encrypt(&ks_enc, &cc::pad(body));
            if odd {
                out.extend(tlv(&[0x85], &cryptogram));
            } else {
                let mut value = vec![0x01];
                value.extend(cryptogram);
                out.extend(tlv(&[0x87], &value));
            }
        }
        out.extend(tlv(&[0x99], sw));
        let mut n = ssc.to_vec();
        n.extend_from_slice(&out);
        let mut mac = cc::retail_mac(&ks_mac, &cc::pad(&n));
        if self.faults.wrong_mac_replies > 0 {
            self.faults.wrong_mac_replies -= 1;
            mac[0] ^= 0xFF;
        }
        out.extend(tlv(&[0x8E], &mac));
        out.extend_from_slice(sw);
        self.access = Access::Secure { ks_enc, ks_mac, ssc };
        out
    }

    fn select(&mut self, apdu: &Apdu<'_>) -> [u8; 2] {
        match (apdu.p1, apdu.p2) {
            (0x04, 0x0C) => {
                if apdu.data == EMRTD_AID {
                    self.applet_selected = true;
                    self.selected = None;
                    SW_OK
                } else {
                    SW_FILE_NOT_FOUND
                }
            }
            (0x02, 0x0C) => {
                let fid = match apdu.data {
                    [h, l] => u16::from_be_bytes([*h, *l]),
                    _ => return SW_WRONG_LENGTH,
                };
                if self.applet_selected && self.file(fid).is_some() {
                    self.selected = Some(fid);
                    SW_OK
                } else {
                    SW_FILE_NOT_FOUND
                }
            }
            _ => SW_WRONG_P1P2,
        }
    }

    fn file(&self, fid: u16) -> Option<&[u8]> {
        match fid {
            FID_EF_COM => Some(&self.ef_com),
            FID_DG1 => Some(&self.dg1),
            FID_DG2 => Some(&self.dg2),
            FID_EF_SOD => Some(&self.sod),
            _ => None,
        }
    }

    fn read_binary(&self, apdu: &Apdu<'_>) -> Vec<u8> {
        if apdu.p1 & 0x80 != 0 {
            // Short EF identifier reads are not offered by this chip.
            return SW_WRONG_P1P2.to_vec();
        }
        let Some(file) = self.selected.and_then(|fid| self.file(fid)) else {
            return SW_NO_EF_SELECTED.to_vec();
        };
        let Some(le) = apdu.le else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let offset = usize::from(u16::from_be_bytes([apdu.p1, apdu.p2]));
        if offset >= file.len() {
            return SW_OFFSET_OUTSIDE.to_vec();
        }
        let available = file.len() - offset;
        if le > self.max_read {
            return match self.oversize {
                OversizeRead::WrongLength => SW_WRONG_LENGTH.to_vec(),
                OversizeRead::CorrectLe => {
                    let fits = self.max_read.min(available);
                    vec![0x6C, u8::try_from(fits).unwrap_or(0)]
                }
            };
        }
        let end = offset + le.min(available);
        let data = file.get(offset..end).unwrap_or_default().to_vec();
        with_sw(data, if le > available { SW_END_OF_FILE } else { SW_OK })
    }
}

impl VirtualPassport {
    /// READ BINARY with odd INS, for offsets beyond 0x7FFF: offset in a `54` object,
    /// data returned in a `53` object whose whole encoding fits Le.
    fn read_binary_odd(&self, apdu: &Apdu<'_>) -> Vec<u8> {
        if (apdu.p1, apdu.p2) != (0, 0) {
            return SW_WRONG_P1P2.to_vec();
        }
        let Some(file) = self.selected.and_then(|fid| self.file(fid)) else {
            return SW_NO_EF_SELECTED.to_vec();
        };
        let offset = match apdu.data {
            [0x54, n, rest @ ..] if usize::from(*n) == rest.len() && (1..=3).contains(n) => {
                rest.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
            }
            _ => return SW_WRONG_LENGTH.to_vec(),
        };
        let Some(le) = apdu.le.filter(|&le| (3..=self.max_read).contains(&le)) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if offset >= file.len() {
            return SW_OFFSET_OUTSIDE.to_vec();
        }
        let available = file.len() - offset;
        // Tag and a length of up to 81 xx.
        let room = le - 3;
        let end = offset + room.min(available);
        let data = tlv(&[0x53], file.get(offset..end).unwrap_or_default());
        with_sw(data, if room > available { SW_END_OF_FILE } else { SW_OK })
    }
}

/// BAC's K.seed from the MRZ (Part 11 §9.7.2): the first 16 bytes of SHA-1 over the document
/// number, birth date and expiry date, each with its check digit. A malformed MRZ gives a
/// seed no host can reproduce, which is what such a chip would do.
fn bac_seed(mrz_lines: &[String]) -> Key16 {
    let line2 = mrz_lines.get(1).map(String::as_bytes).unwrap_or_default();
    let mut info = Vec::new();
    for range in [0..10, 13..20, 21..28] {
        info.extend_from_slice(line2.get(range).unwrap_or_default());
    }
    let digest = Sha1::digest(&info);
    let mut seed = [0u8; 16];
    seed.copy_from_slice(&digest[..16]);
    seed
}

/// One secure messaging data object: tag, whole encoding, value.
type DataObject<'a> = (u8, &'a [u8], &'a [u8]);

/// Secure messaging data objects; `None` when malformed.
fn parse_objects(mut data: &[u8]) -> Option<Vec<DataObject<'_>>> {
    let mut out = Vec::new();
    while let [tag, rest @ ..] = data {
        let (len, header) = match rest {
            [n, ..] if *n < 0x80 => (usize::from(*n), 2),
            [0x81, n, ..] => (usize::from(*n), 3),
            [0x82, h, l, ..] => (usize::from(u16::from_be_bytes([*h, *l])), 4),
            _ => return None,
        };
        let raw = data.get(..header + len)?;
        out.push((*tag, raw, raw.get(header..)?));
        data = data.get(header + len..)?;
    }
    Some(out)
}

fn build_ef_com() -> Vec<u8> {
    let mut body = tlv(&[0x5F, 0x01], b"0107");
    body.extend(tlv(&[0x5F, 0x36], b"040000"));
    body.extend(tlv(&[0x5C], &[0x61, 0x75]));
    tlv(&[0x60], &body)
}

/// True for a JPEG 2000 file (JP2 signature box) or raw codestream.
fn is_jpeg2000(image: &[u8]) -> bool {
    image.starts_with(&[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20])
        || image.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
}

/// ISO/IEC 19794-5:2005 facial record with one face, no feature points.
fn build_facial_record(image: &[u8]) -> Vec<u8> {
    const HEADER: usize = 14;
    const FACIAL_INFO: usize = 20;
    const IMAGE_INFO: usize = 12;
    let block_len = FACIAL_INFO + IMAGE_INFO + image.len();
    let record_len = HEADER + block_len;
    let mut r = Vec::with_capacity(record_len);
    r.extend_from_slice(b"FAC\0");
    r.extend_from_slice(b"010\0");
    r.extend_from_slice(&(record_len as u32).to_be_bytes());
    r.extend_from_slice(&1u16.to_be_bytes()); // number of faces
                                              // Facial information block.
    r.extend_from_slice(&(block_len as u32).to_be_bytes());
    r.extend_from_slice(&0u16.to_be_bytes()); // feature points
    r.extend_from_slice(&[0x00, 0x00, 0x00]); // gender, eye colour, hair colour: unspecified
    r.extend_from_slice(&[0x00, 0x00, 0x00]); // property mask
    r.extend_from_slice(&0u16.to_be_bytes()); // expression
    r.extend_from_slice(&[0x00; 3]); // pose angle yaw, pitch, roll
    r.extend_from_slice(&[0x00; 3]); // pose angle uncertainty
                                     // Image information block.
    r.push(0x01); // face image type: full frontal
    r.push(if is_jpeg2000(image) { 0x01 } else { 0x00 });
    r.extend_from_slice(&480u16.to_be_bytes()); // width
    r.extend_from_slice(&640u16.to_be_bytes()); // height
    r.push(0x01); // colour space: 24-bit RGB
    r.push(0x02); // source type: digital camera
    r.extend_from_slice(&0u16.to_be_bytes()); // device type
    r.extend_from_slice(&0u16.to_be_bytes()); // quality
    r.extend_from_slice(image);
    r
}

fn build_dg2(image: &[u8]) -> Vec<u8> {
    let mut header = tlv(&[0x80], &[0x01, 0x01]); // patron header version
    header.extend(tlv(&[0x81], &[0x02])); // biometric type: facial features
    header.extend(tlv(&[0x87], &[0x01, 0x01])); // format owner
    header.extend(tlv(&[0x88], &[0x00, 0x08])); // format type
    let mut bit = tlv(&[0xA1], &header);
    bit.extend(tlv(&[0x5F, 0x2E], &build_facial_record(image)));
    let mut group = tlv(&[0x02], &[0x01]); // number of instances
    group.extend(tlv(&[0x7F, 0x60], &bit));
    tlv(&[0x75], &tlv(&[0x7F, 0x61], &group))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passport() -> VirtualPassport {
        let mut face = vec![0xFF, 0xD8, 0xFF, 0xE0];
        face.resize(40_000, 0x5A);
        VirtualPassport::new(vec!["A".repeat(44), "B".repeat(44)], face).without_bac()
    }

    #[test]
    fn bac_chip_refuses_plain_reads() {
        let mut p = VirtualPassport::new(vec!["A".repeat(44), "B".repeat(44)], vec![0xFF, 0xD8, 0xFF]);
        assert_eq!(
            p.process_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]),
            SW_OK
        );
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]), SW_SECURITY_NOT_SATISFIED);
        assert_eq!(p.process_apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]).len(), 10);
        // A wrong MAC on EXTERNAL AUTHENTICATE fails authentication.
        let mut cmd = vec![0x00, 0x82, 0x00, 0x00, 0x28];
        cmd.extend([0u8; 40]);
        cmd.push(0x28);
        assert_eq!(p.process_apdu(&cmd), SW_AUTH_FAILED);
    }

    fn select_dg1(p: &mut VirtualPassport) {
        assert_eq!(
            p.process_apdu(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]),
            SW_OK
        );
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]), SW_OK);
    }

    #[test]
    fn ef_com_bytes() {
        let p = passport();
        assert_eq!(
            p.ef_com(),
            [
                0x60, 0x14, 0x5F, 0x01, 0x04, b'0', b'1', b'0', b'7', 0x5F, 0x36, 0x06, b'0', b'4', b'0',
                b'0', b'0', b'0', 0x5C, 0x02, 0x61, 0x75
            ]
        );
    }

    #[test]
    fn dg1_and_dg2_headers() {
        let p = passport();
        assert_eq!(p.dg1()[..5], [0x61, 0x5B, 0x5F, 0x1F, 0x58]);
        assert_eq!(p.dg1().len(), 2 + 3 + 88);
        // 40 000 bytes of image: long-form 82 lengths.
        assert_eq!(p.dg2()[..2], [0x75, 0x82]);
        let outer = usize::from(u16::from_be_bytes([p.dg2()[2], p.dg2()[3]]));
        assert_eq!(outer + 4, p.dg2().len());
    }

    #[test]
    fn read_binary_rules() {
        let mut p = passport();
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x10]), SW_NO_EF_SELECTED);
        select_dg1(&mut p);
        let r = p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x04]);
        assert_eq!(r, [0x61, 0x5B, 0x5F, 0x1F, 0x90, 0x00]);
        // Asking past the end: what is there, then 6282.
        let r = p.process_apdu(&[0x00, 0xB0, 0x00, 0x5A, 0x10]);
        assert_eq!(r.len(), 3 + 2);
        assert_eq!(r[3..], SW_END_OF_FILE);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x5D, 0x01]), SW_OFFSET_OUTSIDE);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0x00]), SW_WRONG_LENGTH);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x05]), SW_FILE_NOT_FOUND);
        assert_eq!(p.process_apdu(&[0x00, 0x84, 0x00, 0x00, 0x08]), SW_INS_UNKNOWN);
    }

    #[test]
    fn oversize_read_can_answer_6c() {
        let mut p = passport().with_max_read(0x80, OversizeRead::CorrectLe);
        select_dg1(&mut p);
        // DG1 holds 93 bytes: xx is what is left, under the cap.
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0xE7]), [0x6C, 0x5D]);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]), SW_OK);
        assert_eq!(p.process_apdu(&[0x00, 0xB0, 0x00, 0x00, 0xE7]), [0x6C, 0x80]);
    }

    #[test]
    fn odd_read_beyond_32k() {
        let mut p = passport();
        select_dg1(&mut p);
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x02]), SW_OK);
        let offset = 0x8000u32.to_be_bytes();
        let cmd = [0x00, 0xB1, 0x00, 0x00, 0x05, 0x54, 0x03, offset[1], offset[2], offset[3], 0x13];
        let r = p.process_apdu(&cmd);
        assert_eq!(r[..2], [0x53, 0x10]);
        assert_eq!(r[2..18], p.dg2()[0x8000..0x8010]);
        assert_eq!(r[18..], SW_OK);
    }

    #[test]
    fn ef_needs_applet() {
        let mut p = passport();
        assert_eq!(p.process_apdu(&[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]), SW_FILE_NOT_FOUND);
    }
}
