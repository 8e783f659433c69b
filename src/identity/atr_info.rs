//! EF.ATR/INFO (ISO/IEC 7816-4 §8.2.1.1; ICAO 9303-10 §3.11.2): the master file's `2F01`,
//! whose data objects say whether the chip takes extended-length APDUs — the extended length
//! information `7F66` (two `02` objects: the most bytes of a command and of a response
//! APDU), or the card capabilities `47`, whose third byte's bit b7 means "extended Lc and Le
//! fields". A pure parser of the chip's bytes.

use super::tlv;

/// The file identifier of EF.ATR/INFO in the master file.
pub const FID_ATR_INFO: u16 = 0x2F01;
/// The extended length information data object.
const TAG_EXTENDED_LENGTH: u32 = 0x7F66;
/// The card capabilities data object (three bytes of software functions).
const TAG_CARD_CAPABILITIES: u32 = 0x47;
/// Third software function byte: extended Lc and Le fields.
const EXTENDED_LC_LE: u8 = 0x40;

/// What the chip says of extended-length APDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExtendedLength {
    /// The chip takes extended Lc/Le fields.
    pub supported: bool,
    /// The most bytes of a command APDU, when `7F66` gives it.
    pub max_command: Option<usize>,
    /// The most bytes of a response APDU, when `7F66` gives it.
    pub max_response: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AtrInfoError {
    #[error("EF.ATR/INFO is not BER-TLV: {0}")]
    Tlv(#[from] tlv::TlvError),
    #[error("EF.ATR/INFO's extended length information (7F66) does not hold two integers")]
    BadExtendedLength,
}

/// Parses EF.ATR/INFO. Filler bytes (`00`, `FF`) after the data objects end the list, as
/// chips pad the file; unknown objects are skipped.
pub fn parse(mut bytes: &[u8]) -> Result<ExtendedLength, AtrInfoError> {
    let mut found = ExtendedLength::default();
    while let Some(&first) = bytes.first() {
        if first == 0x00 || first == 0xFF {
            break;
        }
        let (object, rest) = tlv::parse_one(bytes)?;
        bytes = rest;
        match object.tag {
            TAG_EXTENDED_LENGTH => {
                let values = tlv::parse_all(object.value)?;
                let [command, response] = values.as_slice() else {
                    return Err(AtrInfoError::BadExtendedLength);
                };
                let (Some(command), Some(response)) = (integer(command), integer(response)) else {
                    return Err(AtrInfoError::BadExtendedLength);
                };
                found.supported = true;
                found.max_command = Some(command);
                found.max_response = Some(response);
            }
            TAG_CARD_CAPABILITIES if object.value.get(2).is_some_and(|b| b & EXTENDED_LC_LE != 0) => {
                found.supported = true;
            }
            _ => {}
        }
    }
    Ok(found)
}

/// An `02` object of at most four bytes, unsigned.
fn integer(object: &tlv::Tlv<'_>) -> Option<usize> {
    if object.tag != 0x02 || object.value.is_empty() || object.value.len() > 4 {
        return None;
    }
    Some(object.value.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::cipher::h;
    use proptest::prelude::*;

    #[test]
    fn extended_length_information() {
        let info = parse(&h("7F66080202FFFF0202FFFF")).unwrap();
        assert_eq!(
            info,
            ExtendedLength { supported: true, max_command: Some(0xFFFF), max_response: Some(0xFFFF) }
        );
        // Among other objects and followed by filler.
        let info =
            parse(&h("4603010203 7F6608020204000202 0800 4703008000 0000FFFF".replace(' ', "").as_str()))
                .unwrap();
        assert_eq!((info.supported, info.max_command, info.max_response), (true, Some(0x400), Some(0x800)));
    }

    #[test]
    fn card_capabilities_bit() {
        assert!(parse(&h("4703008040")).unwrap().supported);
        assert!(!parse(&h("4703008000")).unwrap().supported);
        assert!(!parse(&h("47020000")).unwrap().supported);
        assert_eq!(parse(&[]).unwrap(), ExtendedLength::default());
    }

    #[test]
    fn malformed_files_are_errors() {
        assert_eq!(parse(&h("7F66040202FFFF")), Err(AtrInfoError::BadExtendedLength));
        assert_eq!(parse(&h("7F6608040200000202FFFF")), Err(AtrInfoError::BadExtendedLength));
        assert!(matches!(parse(&h("7F6608020204")), Err(AtrInfoError::Tlv(_))));
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse(&bytes);
        }
    }
}
