//! A simulated ICAO 9303 eMRTD chip answering plain (unprotected) APDUs: SELECT of the
//! applet and of EF.COM/DG1/DG2, READ BINARY (B0, and B1 for offsets past 0x7FFF).
//!
//! Basic Access Control / secure messaging is not simulated yet: when it comes, it wraps
//! [`VirtualPassport::process_apdu`] (unwrap the command, call the plain handler, wrap the answer).

use super::ber::tlv;

/// AID of the eMRTD LDS1 application.
pub const EMRTD_AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
pub const FID_EF_COM: u16 = 0x011E;
pub const FID_DG1: u16 = 0x0101;
pub const FID_DG2: u16 = 0x0102;
/// Largest short-Le read many real chips accept.
pub const DEFAULT_MAX_READ: usize = 0xE7;

const SW_OK: [u8; 2] = [0x90, 0x00];
const SW_END_OF_FILE: [u8; 2] = [0x62, 0x82];
const SW_WRONG_LENGTH: [u8; 2] = [0x67, 0x00];
const SW_NO_EF_SELECTED: [u8; 2] = [0x69, 0x86];
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

/// A passport: the MRZ printed on its data page and the chip behind it.
#[derive(Clone)]
pub struct VirtualPassport {
    mrz_lines: Vec<String>,
    ef_com: Vec<u8>,
    dg1: Vec<u8>,
    dg2: Vec<u8>,
    uid: Vec<u8>,
    max_read: usize,
    oversize: OversizeRead,
    applet_selected: bool,
    selected: Option<u16>,
}

// Holds personal data: never print it.
impl std::fmt::Debug for VirtualPassport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualPassport").field("dg2_len", &self.dg2.len()).finish_non_exhaustive()
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
    /// A passport with this MRZ (TD3: two lines of 44) and face image (JPEG or JPEG 2000 bytes).
    pub fn new(mrz_lines: Vec<String>, face_image: Vec<u8>) -> Self {
        let ef_com = build_ef_com();
        let dg1 = tlv(&[0x61], &tlv(&[0x5F, 0x1F], mrz_lines.concat().as_bytes()));
        let dg2 = build_dg2(&face_image);
        Self {
            mrz_lines,
            ef_com,
            dg1,
            dg2,
            uid: vec![0x08, 0x4B, 0x1D, 0x7E],
            max_read: DEFAULT_MAX_READ,
            oversize: OversizeRead::WrongLength,
            applet_selected: false,
            selected: None,
        }
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

    /// Field activation: the chip starts over, nothing selected.
    pub fn reset(&mut self) {
        self.applet_selected = false;
        self.selected = None;
    }

    /// Answers one plain command APDU with data + SW1 SW2.
    pub fn process_apdu(&mut self, command: &[u8]) -> Vec<u8> {
        let Some(apdu) = parse_apdu(command) else {
            return SW_WRONG_LENGTH.to_vec();
        };
        if apdu.cla != 0x00 {
            return SW_CLA_UNKNOWN.to_vec();
        }
        match apdu.ins {
            0xA4 => self.select(&apdu).to_vec(),
            0xB0 => self.read_binary(&apdu),
            0xB1 => self.read_binary_odd(&apdu),
            _ => SW_INS_UNKNOWN.to_vec(),
        }
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
        VirtualPassport::new(vec!["A".repeat(44), "B".repeat(44)], face)
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
