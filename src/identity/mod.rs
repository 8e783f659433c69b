//! Identity documents: reading a passport (MRZ and chip) through the `CardReader` trait.
//!
//! Small pure parsers (`apdu`, `tlv`, `mrz`, `lds`) and one orchestrator (`passport`).

pub mod active_auth;
pub mod apdu;
pub mod atr_info;
pub mod bac;
pub mod chip_auth;
pub mod cipher;
pub mod des3;
pub mod domain;
pub mod emv;
pub mod internal_passport;
pub mod keys;
pub mod lds;
pub mod mrz;
pub mod pa;
pub mod pace;
pub mod passport;
pub mod security_info;
pub mod sm;
pub mod tlv;
pub mod trust;
pub mod trust_files;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;

pub use lds::{FaceImage, ImageFormat};
pub use mrz::{Mrz, MrzError, Sex};
pub use pa::{PaFailure, PassiveAuthentication};
pub use passport::{
    read_passport, read_passport_report, read_passport_report_with, read_passport_with, read_trusted_passport,
    read_trusted_passport_with, ChipAccess,
    ChipCheck, PaceReport, PassportRead, ReadOptions,
};
pub use trust::{TrustErrorKind, TrustStore, TrustStoreError};

use kiosk_hal::card_reader::CardReaderError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("no passport on the reader's window, or its MRZ is unreadable: place the photo page face down on the window, or key in the document number, birth date and expiry date")]
    NoDocument,
    #[error("the MRZ scanned from the photo page is invalid: {0}")]
    ScannedMrz(#[source] MrzError),
    #[error("the reader has no MRZ window (it does not know the scan command): the document number, birth date and expiry date must be keyed in")]
    NoMrzWindow,
    #[error("the keyed-in MRZ fields are invalid: {0}")]
    KeyedMrz(#[source] MrzError),
    #[error("no chip answered in the contactless field: keep the passport flat on the window; a passport without a chip cannot be used here")]
    NoChip,
    #[error("the chip refused access although PACE or Basic Access Control was attempted: hand the passport to staff")]
    AccessControlRequired,
    #[error("the chip refused the access key derived from the scanned MRZ: the MRZ was misread or belongs to another document. Place the photo page flat and retry")]
    AccessDenied,
    #[error("Basic Access Control failed: {0}. Retry; if it persists, hand the passport to staff")]
    Bac(#[source] bac::BacError),
    #[error("PACE with the chip failed: {0}. Retry; if it persists, hand the passport to staff")]
    Pace(#[from] pace::PaceError),
    #[error("secure messaging with the chip failed: {0}. Retry; if it persists, hand the passport to staff")]
    SecureMessaging(#[from] sm::SmError),
    #[error("the document failed authentication: {0}. Its chip cannot be trusted: hand it to staff")]
    NotTrusted(#[source] pa::PaFailure),
    #[error("the CSCA trust store is unusable: {0}")]
    TrustStore(#[from] trust::TrustStoreError),
    #[error("the chip does not list data group tag {0:#04x} in EF.COM: it cannot be used for onboarding")]
    MissingDataGroup(u8),
    #[error("the chip refused to give {what}: {status}. Keep the passport still on the window and retry")]
    Chip { what: &'static str, status: apdu::StatusError },
    #[error("the chip's {file} is malformed: {source}. The passport may be damaged: hand it to staff")]
    Lds { file: &'static str, source: lds::LdsError },
    #[error(
        "the chip's {file} declares {len} bytes, far more than a passport file holds: its data is corrupt"
    )]
    FileTooLarge { file: &'static str, len: usize },
    #[error("the chip answered unexpectedly: {0}. Retry; if it persists, hand the passport to staff")]
    ChipProtocol(String),
    #[error("the chip's data page (DG1) does not match the printed MRZ: chip and page belong to different documents. Hand the passport to staff")]
    DocumentMismatch,
    #[error("the chip's command {ins:#04x} needs an extended-length APDU ({lc} data bytes), and the chip does not announce extended length (EF.ATR/INFO): that protocol cannot be run with this chip")]
    ExtendedLengthUnsupported { ins: u8, lc: usize },
    #[error("chip exchange failed: {0}")]
    Apdu(#[from] apdu::ApduError),
    #[error("card reader failed: {0}")]
    Reader(#[from] CardReaderError),
}
