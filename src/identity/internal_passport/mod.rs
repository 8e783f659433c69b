//! The chipless Russian internal passport (паспорт гражданина РФ), read optically: the pure
//! core — its machine-readable record (`mrz`), the letter table (`translit`), writing a record
//! from the page's data (`encode`), the visual zone against the record (`crosscheck`) and the
//! replacement ages (`validity`). Sources are cited in each module and in
//! docs/INTERNAL-PASSPORT.md. No device, clock or I/O here: `today` is a parameter.

pub mod crosscheck;
pub mod encode;
pub mod mrz;
pub mod translit;
pub mod validity;

#[cfg(test)]
mod tests;

pub use crosscheck::{cross_check, Agreement, CrossCheck, Field, VisualZone};
pub use encode::{encode, EncodeError, PageData};
pub use mrz::{CheckedField, InternalMrz, InternalMrzError, InternalMrzErrorKind};
pub use validity::{Validity, ValidityError, ValidityErrorKind};

use time::Date;

/// What a caller can do about an [`InternalPassportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// OCR could not produce a well-formed record: guide the person to place the page again.
    Unreadable,
    /// A check digit failed: rescan; never accept.
    CheckDigit,
    /// The page contradicts itself or the calendar: refuse, hand to staff.
    Invalid,
    /// Genuine-looking but past its replacement age: refuse and say why.
    Expired,
    /// The printed fields disagree with the record: refuse (altered page or misread).
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InternalPassportError {
    #[error(transparent)]
    Mrz(#[from] InternalMrzError),
    #[error(transparent)]
    Validity(#[from] ValidityError),
    #[error("the printed {} do(es) not match the machine-readable record: the page was misread or altered. Rescan; if it persists, hand the passport to staff", .fields.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "))]
    Mismatch { fields: Vec<Field> },
    #[error("the printed surname, name or birth date could not be read. Put the passport open at the photo page, face down, against the top edge of the window")]
    VisualZoneUnread,
}

impl InternalPassportError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Mrz(e) => match e.kind() {
                InternalMrzErrorKind::Unreadable => ErrorKind::Unreadable,
                InternalMrzErrorKind::CheckDigit => ErrorKind::CheckDigit,
                InternalMrzErrorKind::Invalid => ErrorKind::Invalid,
            },
            Self::Validity(e) => match e.kind() {
                ValidityErrorKind::Expired => ErrorKind::Expired,
                ValidityErrorKind::Inconsistent => ErrorKind::Invalid,
            },
            Self::Mismatch { .. } => ErrorKind::Mismatch,
            Self::VisualZoneUnread => ErrorKind::Unreadable,
        }
    }
}

/// A page whose record parsed with every check digit right, whose visual zone agrees with it,
/// and which is valid today.
#[derive(Debug, Clone)]
pub struct VerifiedPage {
    pub mrz: InternalMrz,
    pub cross_check: CrossCheck,
    pub validity: Validity,
}

/// Record, validity, cross-check, in that order (a record that fails its check digits is not
/// compared with anything).
pub fn verify_page<S: AsRef<str>>(
    mrz_lines: &[S],
    vz: &VisualZone,
    today: Date,
) -> Result<VerifiedPage, InternalPassportError> {
    let mrz = InternalMrz::from_lines(mrz_lines)?;
    let validity = validity::check(mrz.birth_date, mrz.issue_date, today)?;
    let cross_check = cross_check(vz, &mrz);
    let mismatched: Vec<Field> = cross_check.mismatches().collect();
    if !mismatched.is_empty() {
        return Err(InternalPassportError::Mismatch { fields: mismatched });
    }
    if !cross_check.passed() {
        return Err(InternalPassportError::VisualZoneUnread);
    }
    Ok(VerifiedPage { mrz, cross_check, validity })
}
