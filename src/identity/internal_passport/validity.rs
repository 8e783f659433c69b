//! Whether an internal passport is still valid on a given day: the replacement ages.
//!
//! Regulation on the passport of a citizen of the Russian Federation (government decree No. 828
//! of 08.07.1997), items 7 and 15 as amended in 2021: the passport is issued at 14 and replaced
//! on reaching 20 and 45; one that is due for replacement stays valid until the new one is
//! issued, but no longer than 90 days after the day the holder reached that age. A passport
//! issued at 45 or later does not expire. A page printed with a machine-readable record is
//! issued on or after 1 July 2011, when the FMS began printing it.
//!
//! When the anniversary falls on 29 February of a common year, the holder reaches the age on
//! 28 February (a term ending in a month without that day ends on its last day: Civil Code of
//! the Russian Federation, art. 192 item 3).

use time::{Date, Duration, Month};

pub const FIRST_ISSUE_AGE: u8 = 14;
pub const REPLACEMENT_AGES: [u8; 2] = [20, 45];
pub const GRACE_DAYS: i64 = 90;
/// The first day internal passports were issued with a machine-readable record.
pub const MRZ_SINCE: Date = time::macros::date!(2011 - 07 - 01);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid today; `invalid_from` is the first day it no longer is (`None`: issued at 45 or
    /// later, it does not expire).
    Valid { invalid_from: Option<Date> },
}

/// What a caller can do about a [`ValidityError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidityErrorKind {
    /// The passport was valid once and is no longer: the holder must replace it.
    Expired,
    /// The dates contradict each other or the calendar: misread, or not a genuine passport.
    Inconsistent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidityError {
    #[error("this passport had to be replaced when its holder turned {age}; it is no longer valid (since {invalid_from}). Replace it at the MVD or a public service centre (МФЦ); until then a passport with a chip can be used here")]
    PastReplacementAge { age: u8, invalid_from: Date },
    #[error("the issue date read from the passport is after today: misread, or not a genuine passport. Rescan, or hand it to staff")]
    IssuedInFuture,
    #[error("the issue date read from the passport is before its holder turned 14: misread, or not a genuine passport. Rescan, or hand it to staff")]
    IssuedBeforeFirstIssueAge,
    #[error("the passport has a machine-readable record but an issue date before 1 July 2011, when such records began: misread, or not a genuine passport")]
    IssuedBeforeMrz,
}

impl ValidityError {
    pub fn kind(&self) -> ValidityErrorKind {
        match self {
            Self::PastReplacementAge { .. } => ValidityErrorKind::Expired,
            Self::IssuedInFuture | Self::IssuedBeforeFirstIssueAge | Self::IssuedBeforeMrz => {
                ValidityErrorKind::Inconsistent
            }
        }
    }
}

/// The day someone born on `birth` turns `age`.
pub fn anniversary(birth: Date, age: u8) -> Date {
    let year = birth.year() + i32::from(age);
    Date::from_calendar_date(year, birth.month(), birth.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(birth)
}

/// The passport's validity on `today`.
pub fn check(birth: Date, issue: Date, today: Date) -> Result<Validity, ValidityError> {
    if issue > today {
        return Err(ValidityError::IssuedInFuture);
    }
    if issue < anniversary(birth, FIRST_ISSUE_AGE) {
        return Err(ValidityError::IssuedBeforeFirstIssueAge);
    }
    if issue < MRZ_SINCE {
        return Err(ValidityError::IssuedBeforeMrz);
    }
    // The first replacement age the holder had not reached when the passport was issued.
    let due = REPLACEMENT_AGES.into_iter().find(|&age| issue < anniversary(birth, age));
    let Some(age) = due else {
        return Ok(Validity::Valid { invalid_from: None });
    };
    let invalid_from = anniversary(birth, age) + Duration::days(GRACE_DAYS + 1);
    if today >= invalid_from {
        Err(ValidityError::PastReplacementAge { age, invalid_from })
    } else {
        Ok(Validity::Valid { invalid_from: Some(invalid_from) })
    }
}
