//! ICAO 9303 LDS files: EF.COM, DG1 (MRZ), DG2 (face image in an ISO/IEC 19794-5 record).

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::mrz::{Mrz, MrzError};
use super::tlv::{self, TlvError};

pub const TAG_EF_COM: u32 = 0x60;
pub const TAG_DG1: u32 = 0x61;
pub const TAG_DG2: u32 = 0x75;
const TAG_LDS_VERSION: u32 = 0x5F01;
const TAG_UNICODE_VERSION: u32 = 0x5F36;
const TAG_TAG_LIST: u32 = 0x5C;
const TAG_MRZ: u32 = 0x5F1F;
/// Biometric data block: 5F2E, or 7F2E when it is itself encoded as TLV.
const TAG_BDB: u32 = 0x5F2E;
const TAG_BDB_CONSTRUCTED: u32 = 0x7F2E;

/// Facial record header, facial information block and image information block sizes.
const RECORD_HEADER_LEN: usize = 14;
const FACIAL_INFO_LEN: usize = 20;
const FEATURE_POINT_LEN: usize = 8;
const IMAGE_INFO_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LdsError {
    #[error("malformed TLV: {0}")]
    Tlv(#[from] TlvError),
    #[error("tag {tag:X} missing")]
    MissingTag { tag: u32 },
    #[error("MRZ in DG1 is invalid: {0}")]
    Mrz(#[from] MrzError),
    #[error("DG2 biometric block is not an ISO/IEC 19794-5 facial record")]
    NotFacialRecord,
    #[error("facial record is truncated or its lengths are inconsistent")]
    FacialRecordTruncated,
    #[error("facial record holds no face image")]
    NoFace,
    #[error("face image is neither JPEG nor JPEG 2000")]
    UnknownImageFormat,
}

/// EF.COM: LDS version and which data groups the chip holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfCom {
    /// e.g. `"0107"` for LDS 1.7.
    pub lds_version: String,
    pub unicode_version: String,
    /// Data group tags, e.g. `[0x61, 0x75]`.
    pub tag_list: Vec<u8>,
}

pub fn parse_ef_com(bytes: &[u8]) -> Result<EfCom, LdsError> {
    let com = expect(bytes, TAG_EF_COM)?;
    let text = |tag| -> Result<String, LdsError> {
        let tlv = tlv::find(com, tag)?.ok_or(LdsError::MissingTag { tag })?;
        Ok(String::from_utf8_lossy(tlv.value).into_owned())
    };
    Ok(EfCom {
        lds_version: text(TAG_LDS_VERSION)?,
        unicode_version: text(TAG_UNICODE_VERSION)?,
        tag_list: tlv::find(com, TAG_TAG_LIST)?
            .ok_or(LdsError::MissingTag { tag: TAG_TAG_LIST })?
            .value
            .to_vec(),
    })
}

/// The value of the outer element, which must carry `tag`.
fn expect(bytes: &[u8], tag: u32) -> Result<&[u8], LdsError> {
    let (outer, _) = tlv::parse_one(bytes)?;
    if outer.tag != tag {
        return Err(LdsError::MissingTag { tag });
    }
    Ok(outer.value)
}

/// DG1 → the MRZ it stores (88 characters for a passport).
pub fn parse_dg1(bytes: &[u8]) -> Result<Mrz, LdsError> {
    let dg1 = expect(bytes, TAG_DG1)?;
    let mrz = tlv::find(dg1, TAG_MRZ)?.ok_or(LdsError::MissingTag { tag: TAG_MRZ })?;
    let mut text = String::from_utf8_lossy(mrz.value).into_owned();
    let parsed = Mrz::from_td3(&text);
    text.zeroize();
    Ok(parsed?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    /// JP2 file (signature box).
    Jpeg2000,
    /// Raw J2K codestream.
    Jpeg2000Codestream,
}

impl ImageFormat {
    pub fn detect(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(&[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) {
            Some(Self::Jpeg2000)
        } else if bytes.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
            Some(Self::Jpeg2000Codestream)
        } else {
            None
        }
    }
}

/// The holder's face as the chip stores it. Personal data: wiped on drop, redacted in Debug.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct FaceImage {
    #[zeroize(skip)]
    pub format: ImageFormat,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FaceImage {{ format: {:?}, {} bytes }}", self.format, self.bytes.len())
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(b)).ok()
}

fn be_u16(bytes: &[u8], at: usize) -> Option<usize> {
    let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
    Some(usize::from(u16::from_be_bytes(b)))
}

/// DG2 → the first face image.
pub fn parse_dg2(bytes: &[u8]) -> Result<FaceImage, LdsError> {
    let dg2 = expect(bytes, TAG_DG2)?;
    let bdb = match tlv::find(dg2, TAG_BDB)? {
        Some(tlv) => tlv,
        None => tlv::find(dg2, TAG_BDB_CONSTRUCTED)?.ok_or(LdsError::MissingTag { tag: TAG_BDB })?,
    };
    parse_facial_record(bdb.value)
}

/// ISO/IEC 19794-5: header, then per face a facial information block, feature points,
/// an image information block and the image.
fn parse_facial_record(record: &[u8]) -> Result<FaceImage, LdsError> {
    if !record.starts_with(b"FAC\0") {
        return Err(LdsError::NotFacialRecord);
    }
    let faces = be_u16(record, 12).ok_or(LdsError::FacialRecordTruncated)?;
    if faces == 0 {
        return Err(LdsError::NoFace);
    }
    let block = record.get(RECORD_HEADER_LEN..).ok_or(LdsError::FacialRecordTruncated)?;
    let block_len = be_u32(block, 0).ok_or(LdsError::FacialRecordTruncated)?;
    let feature_points = be_u16(block, 4).ok_or(LdsError::FacialRecordTruncated)?;
    let image_start = FACIAL_INFO_LEN + feature_points * FEATURE_POINT_LEN + IMAGE_INFO_LEN;
    let image = block.get(image_start..block_len).ok_or(LdsError::FacialRecordTruncated)?;
    let format = ImageFormat::detect(image).ok_or(LdsError::UnknownImageFormat)?;
    Ok(FaceImage { format, bytes: image.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_hal::card_reader::sim::VirtualPassport;
    use proptest::prelude::*;

    const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn passport(face: Vec<u8>) -> VirtualPassport {
        VirtualPassport::new(vec![LINE1.to_owned(), LINE2.to_owned()], face)
    }

    #[test]
    fn parses_files_built_by_the_simulated_chip() {
        let mut face = vec![0xFF, 0xD8, 0xFF, 0xE0];
        face.extend((0..70_000u32).map(|i| (i % 251) as u8));
        let p = passport(face.clone());
        let com = parse_ef_com(p.ef_com()).unwrap();
        assert_eq!((com.lds_version.as_str(), com.tag_list.as_slice()), ("0107", &[0x61, 0x75][..]));
        assert_eq!(parse_dg1(p.dg1()).unwrap().document_number, "L898902C3");
        let image = parse_dg2(p.dg2()).unwrap();
        assert_eq!(image.format, ImageFormat::Jpeg);
        assert_eq!(image.bytes, face);
    }

    #[test]
    fn jpeg2000_formats() {
        let jp2 = vec![0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A];
        assert_eq!(parse_dg2(passport(jp2).dg2()).unwrap().format, ImageFormat::Jpeg2000);
        let j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00];
        assert_eq!(parse_dg2(passport(j2k).dg2()).unwrap().format, ImageFormat::Jpeg2000Codestream);
        assert_eq!(parse_dg2(passport(b"GIF89a".to_vec()).dg2()), Err(LdsError::UnknownImageFormat));
    }

    #[test]
    fn wrong_outer_tag() {
        assert_eq!(parse_dg1(&[0x75, 0x00]), Err(LdsError::MissingTag { tag: TAG_DG1 }));
        assert_eq!(parse_dg2(&[0x75, 0x03, 0x5F, 0x2E, 0x00]), Err(LdsError::NotFacialRecord));
    }

    proptest! {
        #[test]
        fn never_panics(data in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_ef_com(&data);
            let _ = parse_dg1(&data);
            let _ = parse_dg2(&data);
            let mut record = [b"FAC\0".as_slice(), b"010\0"].concat();
            record.extend(&data);
            let _ = parse_facial_record(&record);
        }
    }
}
