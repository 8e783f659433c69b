//! The machine-readable record (МЧЗ) of the Russian internal passport, parsed from two lines of
//! 44 characters as OCR read them.
//!
//! Layout per MVD order No. 773 of 16.11.2020, appendix 24 (formerly the FMS order at
//! docs.cntd.ru/document/902288198, table 3), positions 1-based:
//!
//! ```text
//! line 1   1-2  "PN"   3-5 "RUS"   6-44 SURNAME<<NAME<PATRONYMIC (table of `translit`)
//! line 2   1-9  the series' first three digits + the six-digit number    10  check digit
//!          11-13 "RUS" (citizenship)   14-19 birth date YYMMDD   20 check digit   21 sex M/F
//!          22-27 expiry: fillers (the passport's term follows from the holder's age)
//!          28    its check digit: a filler
//!          29-42 optional data: the series' last digit, issue date YYMMDD, division code
//!                (6 digits, printed NNN-NNN on the page), one filler
//!          43    check digit of 29-42     44 composite check digit
//! ```
//!
//! Check digits are ICAO's 7-3-1 modulo 10 (`super::super::mrz::check_digit`); the composite
//! covers positions 1-10, 14-20 and 22-43 of line 2, as in a TD3 passport. A wrong check digit
//! is an error, never corrected: the reader rescans instead.

use super::translit;
use crate::identity::mrz::{check_digit, Sex};
use time::{Date, Month};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const LINE_LEN: usize = 44;
/// Positions 6-44 of line 1.
pub const NAME_FIELD_LEN: usize = 39;

/// Line 2's fields guarded by a check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedField {
    SeriesAndNumber,
    BirthDate,
    OptionalData,
    Composite,
}

impl std::fmt::Display for CheckedField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SeriesAndNumber => "series and number",
            Self::BirthDate => "birth date",
            Self::OptionalData => "optional data (series digit, issue date, division code)",
            Self::Composite => "composite (whole second line)",
        })
    }
}

/// What a caller can do about an [`InternalMrzError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InternalMrzErrorKind {
    /// The text does not have the shape of the record: OCR lost or added characters. Rescan.
    Unreadable,
    /// A check digit does not match: misread, or altered. Rescan; never accept.
    CheckDigit,
    /// Well formed and checked, but a value is impossible (no such date, a letter the table
    /// does not have). The page is not a genuine internal passport or was misread.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InternalMrzError {
    #[error(
        "the machine-readable record has {0} lines, the internal passport's has 2. Rescan the photo page"
    )]
    LineCount(usize),
    #[error(
        "line {line} of the machine-readable record has {len} characters, not 44. Rescan the photo page"
    )]
    LineLength { line: usize, len: usize },
    #[error("line {line} of the machine-readable record has a character other than A-Z, 0-9 and '<' at position {position}. Rescan")]
    InvalidCharacter { line: usize, position: usize },
    #[error("the record does not start with PNRUS: this is not a Russian internal passport")]
    NotInternalPassport,
    #[error("the check digit of the {0} does not match: misread or altered. Rescan; if it persists, hand the passport to staff")]
    CheckDigit(CheckedField),
    #[error("the {0} in the machine-readable record is not a valid date. Rescan")]
    InvalidDate(&'static str),
    #[error("the {0} in the machine-readable record is not what the internal passport prints there. Rescan")]
    Malformed(&'static str),
    #[error(
        "the name in the machine-readable record has a character that stands for no Russian letter. Rescan"
    )]
    Name,
}

impl InternalMrzError {
    pub fn kind(&self) -> InternalMrzErrorKind {
        match self {
            Self::LineCount(_) | Self::LineLength { .. } | Self::InvalidCharacter { .. } => {
                InternalMrzErrorKind::Unreadable
            }
            Self::CheckDigit(_) => InternalMrzErrorKind::CheckDigit,
            Self::NotInternalPassport | Self::InvalidDate(_) | Self::Malformed(_) | Self::Name => {
                InternalMrzErrorKind::Invalid
            }
        }
    }
}

/// A parsed, check-digit-verified internal passport record. Personal data: wiped on drop,
/// redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct InternalMrz {
    /// Cyrillic capitals; parts of a compound surname joined by '-'.
    pub surname: String,
    /// Cyrillic capitals (empty if the record has none).
    pub given_name: String,
    /// Cyrillic capitals; empty when the holder has none. Words after the first given word.
    pub patronymic: String,
    /// Positions 6-44 exactly as printed (for the cross-check with the visual zone).
    pub name_field: String,
    /// Four digits, as on the page ("45 09" → "4509").
    pub series: String,
    /// Six digits.
    pub number: String,
    #[zeroize(skip)]
    pub birth_date: Date,
    #[zeroize(skip)]
    pub sex: Sex,
    #[zeroize(skip)]
    pub issue_date: Date,
    /// Six digits ("770-077" → "770077").
    pub division_code: String,
    raw: String,
}

impl std::fmt::Debug for InternalMrz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalMrz { <redacted> }")
    }
}

fn verify(field: &str, check: u8, which: CheckedField) -> Result<(), InternalMrzError> {
    match (check_digit(field), char::from(check).to_digit(10)) {
        (Some(expected), Some(found)) if u32::from(expected) == found => Ok(()),
        _ => Err(InternalMrzError::CheckDigit(which)),
    }
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// YYMMDD with the century given.
fn date(yymmdd: &str, century: i32, what: &'static str) -> Result<Date, InternalMrzError> {
    let bad = InternalMrzError::InvalidDate(what);
    if yymmdd.len() != 6 || !digits(yymmdd) {
        return Err(bad);
    }
    let n = |r: std::ops::Range<usize>| yymmdd.get(r).and_then(|s| s.parse::<u8>().ok()).ok_or(bad);
    let month = Month::try_from(n(2..4)?).map_err(|_| bad)?;
    Date::from_calendar_date(century + i32::from(n(0..2)?), month, n(4..6)?).map_err(|_| bad)
}

/// The first line's name field → (surname, given name, patronymic) in Cyrillic.
fn decode_name(field: &str) -> Result<(String, String, String), InternalMrzError> {
    let (surname_part, rest) = field.split_once("<<").unwrap_or((field, ""));
    let words = |s: &str| -> Result<Vec<String>, InternalMrzError> {
        s.split('<')
            .filter(|w| !w.is_empty())
            .map(|w| translit::word_to_cyrillic(w).ok_or(InternalMrzError::Name))
            .collect()
    };
    let surname = words(surname_part)?.join("-");
    if surname.is_empty() {
        return Err(InternalMrzError::Malformed("surname"));
    }
    let given = words(rest)?;
    let (first, others) = given.split_first().map_or((String::new(), &[][..]), |(f, o)| (f.clone(), o));
    Ok((surname, first, others.join(" ")))
}

impl InternalMrz {
    /// Parses the two lines as read from the photo page.
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Result<Self, InternalMrzError> {
        let [line1, line2] = lines else {
            return Err(InternalMrzError::LineCount(lines.len()));
        };
        let (line1, line2) = (line1.as_ref().trim(), line2.as_ref().trim());
        for (i, line) in [line1, line2].into_iter().enumerate() {
            let len = line.chars().count();
            if len != LINE_LEN {
                return Err(InternalMrzError::LineLength { line: i + 1, len });
            }
            if let Some(position) = line.chars().position(|c| !matches!(c, 'A'..='Z' | '0'..='9' | '<')) {
                return Err(InternalMrzError::InvalidCharacter { line: i + 1, position: position + 1 });
            }
        }
        // ASCII only from here: byte ranges are character ranges.
        let l2 = line2.as_bytes();
        let f2 = |r: std::ops::Range<usize>| line2.get(r).unwrap_or_default();
        let at = |i: usize| l2.get(i).copied().unwrap_or(b'?');
        if line1.get(0..5) != Some("PNRUS") {
            return Err(InternalMrzError::NotInternalPassport);
        }
        verify(f2(0..9), at(9), CheckedField::SeriesAndNumber)?;
        verify(f2(13..19), at(19), CheckedField::BirthDate)?;
        verify(f2(28..42), at(42), CheckedField::OptionalData)?;
        let composite = format!("{}{}{}", f2(0..10), f2(13..20), f2(21..43));
        verify(&composite, at(43), CheckedField::Composite)?;

        if !digits(f2(0..9)) || !digits(f2(28..29)) {
            return Err(InternalMrzError::Malformed("series and number"));
        }
        if f2(10..13) != "RUS" {
            return Err(InternalMrzError::Malformed("citizenship"));
        }
        let sex = match at(20) {
            b'M' => Sex::Male,
            b'F' => Sex::Female,
            _ => return Err(InternalMrzError::Malformed("sex")),
        };
        if f2(21..28) != "<<<<<<<" {
            return Err(InternalMrzError::Malformed("expiry date (always empty)"));
        }
        if !digits(f2(35..41)) {
            return Err(InternalMrzError::Malformed("division code"));
        }
        if at(41) != b'<' {
            return Err(InternalMrzError::Malformed("optional data filler"));
        }
        // Records are printed since 1 July 2011: the issue year is 20YY.
        let issue_date = date(f2(29..35), 2000, "issue date")?;
        // A holder is at least 14 at issue: the later century that allows that.
        let birth_date = match date(f2(13..19), 2000, "birth date") {
            Ok(d) if d.year() + 14 <= issue_date.year() => d,
            _ => date(f2(13..19), 1900, "birth date")?,
        };
        let name_field = line1.get(5..LINE_LEN).unwrap_or_default().to_owned();
        let (surname, given_name, patronymic) = decode_name(&name_field)?;
        Ok(Self {
            surname,
            given_name,
            patronymic,
            name_field,
            series: format!("{}{}", f2(0..3), f2(28..29)),
            number: f2(3..9).to_owned(),
            birth_date,
            sex,
            issue_date,
            division_code: f2(35..41).to_owned(),
            raw: format!("{line1}{line2}"),
        })
    }

    /// The 88 characters as read.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Whether the name field is full to its last position: a long name the regulation
    /// shortened, so the visual zone holds more than the record.
    pub fn name_may_be_shortened(&self) -> bool {
        !self.name_field.ends_with('<')
    }
}
