//! A simulated EMV payment card (contact and contactless): PSE/PPSE directory, one payment
//! application with a PDOL, GET PROCESSING OPTIONS and two records holding track 2 equivalent
//! data (57), the PAN (5A) and the expiry date (5F24).

use super::ber::tlv;

pub const PSE: &[u8] = b"1PAY.SYS.DDF01";
pub const PPSE: &[u8] = b"2PAY.SYS.DDF01";
/// Visa credit/debit.
pub const AID_VISA: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x03, 0x10, 0x10];
/// PDOL: TTQ (9F66, 4), amount (9F02, 6), unpredictable number (9F37, 4), currency (5F2A, 2).
const PDOL: [u8; 13] = [0x9F, 0x66, 0x04, 0x9F, 0x02, 0x06, 0x9F, 0x37, 0x04, 0x5F, 0x2A, 0x02, 0x00];
const PDOL_DATA_LEN: usize = 4 + 6 + 4 + 2;

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
const SW_CONDITIONS: [u8; 2] = [0x69, 0x85];
const SW_FILE_NOT_FOUND: [u8; 2] = [0x6A, 0x82];
const SW_RECORD_NOT_FOUND: [u8; 2] = [0x6A, 0x83];
const SW_INS_UNKNOWN: [u8; 2] = [0x6D, 0x00];

/// A bank card: PAN (digits) and expiry (`YYMMDD`).
#[derive(Clone)]
pub struct VirtualBankCard {
    pan: String,
    expiry: String,
    selected: Selected,
    processing: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Selected {
    Nothing,
    Directory { contact: bool },
    Application,
}

// The PAN is card data: never print it.
impl std::fmt::Debug for VirtualBankCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualBankCard").finish_non_exhaustive()
    }
}

impl VirtualBankCard {
    /// `pan`: 12–19 digits; `expiry`: `YYMMDD`.
    pub fn new(pan: &str, expiry: &str) -> Self {
        Self { pan: pan.to_owned(), expiry: expiry.to_owned(), selected: Selected::Nothing, processing: false }
    }

    /// The card the demo and tests use: a Visa test PAN (Luhn-valid).
    pub fn test_card() -> Self {
        Self::new("4111111111111111", "301231")
    }

    pub fn reset(&mut self) {
        self.selected = Selected::Nothing;
        self.processing = false;
    }

    /// Answers one command APDU (short encoding) with data + SW1 SW2.
    pub fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        let [cla, ins, p1, p2, rest @ ..] = command else {
            return SW_WRONG_LENGTH.to_vec();
        };
        let data = match rest {
            [] | [_] => &[][..],
            [lc, body @ ..] => match body.get(..usize::from(*lc)) {
                Some(d) if body.len() <= usize::from(*lc) + 1 => d,
                _ => return SW_WRONG_LENGTH.to_vec(),
            },
        };
        match (*cla, *ins) {
            (0x00, 0xA4) if *p1 == 0x04 => self.select(data, *p2),
            (0x80, 0xA8) => self.get_processing_options(data),
            (0x00, 0xB2) => self.read_record(*p1, *p2),
            _ => SW_INS_UNKNOWN.to_vec(),
        }
    }

    fn select(&mut self, name: &[u8], _p2: u8) -> Vec<u8> {
        self.processing = false;
        let entry = || {
            let mut e = tlv(&[0x4F], &AID_VISA);
            e.extend(tlv(&[0x50], b"VISA DEBIT"));
            e.extend(tlv(&[0x87], &[0x01]));
            tlv(&[0x61], &e)
        };
        let fci = if name == PPSE {
            self.selected = Selected::Directory { contact: false };
            let prop = tlv(&[0xA5], &tlv(&[0xBF, 0x0C], &entry()));
            let mut body = tlv(&[0x84], PPSE);
            body.extend(prop);
            body
        } else if name == PSE {
            self.selected = Selected::Directory { contact: true };
            // The directory is a record file with SFI 1.
            let mut body = tlv(&[0x84], PSE);
            body.extend(tlv(&[0xA5], &tlv(&[0x88], &[0x01])));
            body
        } else if name == AID_VISA {
            self.selected = Selected::Application;
            let mut prop = tlv(&[0x50], b"VISA DEBIT");
            prop.extend(tlv(&[0x9F, 0x38], &PDOL[..12]));
            let mut body = tlv(&[0x84], &AID_VISA);
            body.extend(tlv(&[0xA5], &prop));
            body
        } else {
            return SW_FILE_NOT_FOUND.to_vec();
        };
        with_sw(tlv(&[0x6F], &fci), SW_OK)
    }

    fn get_processing_options(&mut self, data: &[u8]) -> Vec<u8> {
        if self.selected != Selected::Application {
            return SW_CONDITIONS.to_vec();
        }
        match data {
            [0x83, n, pdol_data @ ..] if usize::from(*n) == pdol_data.len() && pdol_data.len() == PDOL_DATA_LEN => {}
            _ => return SW_WRONG_LENGTH.to_vec(),
        }
        self.processing = true;
        let mut body = tlv(&[0x82], &[0x20, 0x00]); // AIP
        body.extend(tlv(&[0x94], &[0x08, 0x01, 0x02, 0x00])); // AFL: SFI 1, records 1–2
        with_sw(tlv(&[0x77], &body), SW_OK)
    }

    fn read_record(&self, record: u8, p2: u8) -> Vec<u8> {
        let sfi = p2 >> 3;
        if p2 & 0x07 != 0x04 {
            return SW_RECORD_NOT_FOUND.to_vec();
        }
        let body = match (self.selected, self.processing, sfi, record) {
            (Selected::Directory { contact: true }, _, 1, 1) => {
                let mut e = tlv(&[0x4F], &AID_VISA);
                e.extend(tlv(&[0x50], b"VISA DEBIT"));
                tlv(&[0x61], &e)
            }
            (Selected::Application, true, 1, 1) => tlv(&[0x57], &self.track2()),
            (Selected::Application, true, 1, 2) => {
                let mut r = tlv(&[0x5A], &bcd(&self.pan));
                r.extend(tlv(&[0x5F, 0x24], &bcd(&self.expiry)));
                r
            }
            (Selected::Application, false, ..) => return SW_CONDITIONS.to_vec(),
            _ => return SW_RECORD_NOT_FOUND.to_vec(),
        };
        with_sw(tlv(&[0x70], &body), SW_OK)
    }

    /// Track 2 equivalent data: PAN, separator D, YYMM, service code 201, discretionary data.
    fn track2(&self) -> Vec<u8> {
        let yymm = self.expiry.get(..4).unwrap_or("0000");
        bcd(&format!("{}D{yymm}2010000000000", self.pan))
    }
}

/// Packs hex-ish digits two per byte, padding an odd count with F.
fn bcd(digits: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'D' | b'd' => 0x0D,
        _ => 0x0F,
    };
    let bytes = digits.as_bytes();
    bytes
        .chunks(2)
        .map(|pair| match pair {
            [a, b] => (nibble(*a) << 4) | nibble(*b),
            [a] => (nibble(*a) << 4) | 0x0F,
            _ => 0xFF,
        })
        .collect()
}

fn with_sw(mut data: Vec<u8>, sw: [u8; 2]) -> Vec<u8> {
    data.extend_from_slice(&sw);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppse_gpo_records() {
        let mut card = VirtualBankCard::test_card();
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, PPSE.len() as u8];
        select.extend_from_slice(PPSE);
        select.push(0);
        let r = card.process_apdu(&select);
        assert_eq!(r[r.len() - 2..], SW_OK);
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, 7];
        select.extend_from_slice(&AID_VISA);
        select.push(0);
        card.process_apdu(&select);
        // Records before GPO are refused.
        assert_eq!(card.process_apdu(&[0x00, 0xB2, 0x01, 0x0C, 0x00]), SW_CONDITIONS);
        let mut gpo = vec![0x80, 0xA8, 0x00, 0x00, 18, 0x83, 16];
        gpo.extend([0u8; 16]);
        gpo.push(0);
        let r = card.process_apdu(&gpo);
        assert_eq!(r[..2], [0x77, 0x0A]);
        let r = card.process_apdu(&[0x00, 0xB2, 0x02, 0x0C, 0x00]);
        assert_eq!(r[..4], [0x70, 0x10, 0x5A, 0x08]);
        assert_eq!(r[4..12], [0x41, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11]);
    }
}
