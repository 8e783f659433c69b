//! TD3 (passport) machine-readable zone: 2 lines of 44 characters, ICAO Doc 9303 Part 4.

use zeroize::{Zeroize, ZeroizeOnDrop};

pub const TD3_LINE_LEN: usize = 44;

/// Fields protected by a check digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzField {
    DocumentNumber,
    BirthDate,
    ExpiryDate,
    OptionalData,
    Composite,
}

impl std::fmt::Display for MrzField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DocumentNumber => "document number",
            Self::BirthDate => "birth date",
            Self::ExpiryDate => "expiry date",
            Self::OptionalData => "personal number (optional data)",
            Self::Composite => "composite (whole second line)",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MrzError {
    #[error("MRZ has {0} lines; a passport (TD3) has 2 lines of 44 characters. Rescan, or key the data in")]
    LineCount(usize),
    #[error("MRZ line {line} has {len} characters, a passport line has 44. Rescan, or key the data in")]
    LineLength { line: usize, len: usize },
    #[error("MRZ line {line} has a character other than A-Z, 0-9 and '<' at position {position}. Rescan")]
    InvalidCharacter { line: usize, position: usize },
    #[error("MRZ check digit of the {0} does not match: misread or forged. Rescan, or key the data in")]
    CheckDigit(MrzField),
    #[error("MRZ {0} is not a valid YYMMDD date. Rescan, or key the data in")]
    InvalidDate(MrzField),
    #[error("MRZ is not a passport's (document code must start with 'P')")]
    NotPassport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
    Unspecified,
}

/// A parsed, check-digit-verified TD3 MRZ. Personal data: wiped on drop, redacted in Debug.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Mrz {
    pub document_type: String,
    pub issuing_state: String,
    pub surname: String,
    pub given_names: String,
    pub document_number: String,
    pub nationality: String,
    /// YYMMDD as printed (the century is not in the MRZ).
    pub birth_date: String,
    #[zeroize(skip)]
    pub sex: Sex,
    /// YYMMDD as printed.
    pub expiry_date: String,
    pub optional_data: String,
    /// The 88 characters as read, for exact comparison of two readings.
    raw: String,
}

impl std::fmt::Debug for Mrz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mrz { <redacted> }")
    }
}

/// ICAO 7-3-1 check digit; `None` on a character outside the MRZ alphabet. The flow checks
/// keyed-in fields with the same function as they are typed.
pub fn check_digit(field: &str) -> Option<u8> {
    crate::flow::keyed::check_digit(field.as_bytes())
}

fn verify(field: &str, check: char, which: MrzField) -> Result<(), MrzError> {
    // An all-filler optional data field may carry '<' as its check digit.
    if check == '<' && which == MrzField::OptionalData && field.chars().all(|c| c == '<') {
        return Ok(());
    }
    let expected = check_digit(field).ok_or(MrzError::CheckDigit(which))?;
    match check.to_digit(10) {
        Some(d) if d == u32::from(expected) => Ok(()),
        _ => Err(MrzError::CheckDigit(which)),
    }
}

/// Checks keyed-in "MRZ information" (document number padded to 9, birth date, expiry date,
/// each followed by its check digit: 24 characters) as the chip's access key needs it.
pub fn verify_information(info: &str) -> Result<(), MrzError> {
    if info.len() != 24 {
        return Err(MrzError::LineLength { line: 2, len: info.len() });
    }
    if let Some(position) = info.bytes().position(|b| !(b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'<')) {
        return Err(MrzError::InvalidCharacter { line: 2, position });
    }
    let part = |r: std::ops::Range<usize>| info.get(r).unwrap_or_default();
    let digit = |at: usize| info.as_bytes().get(at).map_or('?', |b| char::from(*b));
    verify(part(0..9), digit(9), MrzField::DocumentNumber)?;
    for (range, which) in [(10..16, MrzField::BirthDate), (17..23, MrzField::ExpiryDate)] {
        if !valid_date(part(range.clone())) {
            return Err(MrzError::InvalidDate(which));
        }
        verify(part(range.clone()), digit(range.end), which)?;
    }
    Ok(())
}

fn valid_date(date: &str) -> bool {
    let num = |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<u8>().ok());
    date.len() == 6
        && date.bytes().all(|b| b.is_ascii_digit())
        && matches!(num(2..4), Some(1..=12))
        && matches!(num(4..6), Some(1..=31))
}

fn unfill(s: &str) -> String {
    s.trim_end_matches('<').to_owned()
}

/// `ERIKSSON<<ANNA<MARIA<<<` → ("ERIKSSON", "ANNA MARIA").
fn split_name(field: &str) -> (String, String) {
    let (surname, given) = field.split_once("<<").unwrap_or((field, ""));
    let words = |s: &str| s.split('<').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    (words(surname), words(given))
}

impl Mrz {
    /// Parses the two lines of a TD3 MRZ, as scanned from the data page.
    pub fn from_lines<S: AsRef<str>>(lines: &[S]) -> Result<Self, MrzError> {
        let [line1, line2] = lines else {
            return Err(MrzError::LineCount(lines.len()));
        };
        let (line1, line2) = (line1.as_ref().trim(), line2.as_ref().trim());
        for (i, line) in [line1, line2].into_iter().enumerate() {
            let len = line.chars().count();
            if len != TD3_LINE_LEN {
                return Err(MrzError::LineLength { line: i + 1, len });
            }
            if let Some(position) = line.chars().position(|c| !matches!(c, 'A'..='Z' | '0'..='9' | '<')) {
                return Err(MrzError::InvalidCharacter { line: i + 1, position });
            }
        }
        // Only ASCII from here on: byte ranges are character ranges.
        let f1 = |r: std::ops::Range<usize>| line1.get(r).unwrap_or_default();
        let f2 = |r: std::ops::Range<usize>| line2.get(r).unwrap_or_default();
        let ch2 = |i: usize| line2.as_bytes().get(i).map_or('?', |&b| char::from(b));

        if !f1(0..1).starts_with('P') {
            return Err(MrzError::NotPassport);
        }
        verify(f2(0..9), ch2(9), MrzField::DocumentNumber)?;
        verify(f2(13..19), ch2(19), MrzField::BirthDate)?;
        verify(f2(21..27), ch2(27), MrzField::ExpiryDate)?;
        verify(f2(28..42), ch2(42), MrzField::OptionalData)?;
        let composite = format!("{}{}{}", f2(0..10), f2(13..20), f2(21..43));
        verify(&composite, ch2(43), MrzField::Composite)?;
        if !valid_date(f2(13..19)) {
            return Err(MrzError::InvalidDate(MrzField::BirthDate));
        }
        if !valid_date(f2(21..27)) {
            return Err(MrzError::InvalidDate(MrzField::ExpiryDate));
        }
        let (surname, given_names) = split_name(f1(5..44));
        Ok(Self {
            document_type: unfill(f1(0..2)),
            issuing_state: unfill(f1(2..5)),
            surname,
            given_names,
            document_number: unfill(f2(0..9)),
            nationality: unfill(f2(10..13)),
            birth_date: f2(13..19).to_owned(),
            sex: match ch2(20) {
                'M' => Sex::Male,
                'F' => Sex::Female,
                _ => Sex::Unspecified,
            },
            expiry_date: f2(21..27).to_owned(),
            optional_data: unfill(f2(28..42)),
            raw: format!("{line1}{line2}"),
        })
    }

    /// Parses the 88 characters of a TD3 MRZ in one string (as DG1 stores it).
    pub fn from_td3(text: &str) -> Result<Self, MrzError> {
        let len = text.chars().count();
        if len != 2 * TD3_LINE_LEN || !text.is_ascii() {
            return Err(MrzError::LineLength { line: 1, len });
        }
        let (line1, line2) = text.split_at(TD3_LINE_LEN);
        Self::from_lines(&[line1, line2])
    }

    /// The 88 characters as read.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

/// Whether a document with this MRZ expiry date (`YYMMDD`) has expired on `today`: it is valid
/// through its expiry day. Passport expiry years are read as 20YY (a TD3 passport is valid ten
/// years at most, and none issued before 2000 is still in use). A date that is not a valid
/// calendar date counts as expired: validity cannot be confirmed.
pub fn expired_on(expiry: &str, today: time::Date) -> bool {
    let field = |range: std::ops::Range<usize>| expiry.get(range).and_then(|t| t.parse::<u8>().ok());
    let (Some(yy), Some(mm), Some(dd)) = (field(0..2), field(2..4), field(4..6)) else { return true };
    if expiry.len() != 6 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let Ok(month) = time::Month::try_from(mm) else { return true };
    match time::Date::from_calendar_date(2000 + i32::from(yy), month, dd) {
        Ok(date) => today > date,
        Err(_) => true,
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::expired_on;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn valid_through_the_expiry_day() {
        assert!(!expired_on("310101", date!(2026 - 12 - 06)));
        assert!(!expired_on("261206", date!(2026 - 12 - 06)), "the last valid day");
        assert!(expired_on("261205", date!(2026 - 12 - 06)));
        assert!(expired_on("120415", date!(2026 - 12 - 06)), "the ICAO specimen expired in 2012");
        for bad in ["", "12041", "1204150", "12<415", "121315", "120230", "-10415", "+10415"] {
            assert!(expired_on(bad, date!(2026 - 12 - 06)), "{bad:?} cannot be confirmed valid");
        }
    }

    proptest! {
        /// Any text: no panic; a later day is never less expired.
        #[test]
        fn never_panics_and_is_monotonic(text in "\\PC{0,8}", days in 0i64..20_000) {
            let day = date!(2000 - 01 - 01) + time::Duration::days(days);
            let expired = expired_on(&text, day);
            prop_assert!(!expired || expired_on(&text, day + time::Duration::days(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    pub(crate) const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    #[test]
    fn icao_specimen() {
        let mrz = Mrz::from_lines(&[LINE1, LINE2]).unwrap();
        assert_eq!(mrz.document_type, "P");
        assert_eq!(mrz.issuing_state, "UTO");
        assert_eq!(mrz.surname, "ERIKSSON");
        assert_eq!(mrz.given_names, "ANNA MARIA");
        assert_eq!(mrz.document_number, "L898902C3");
        assert_eq!(mrz.nationality, "UTO");
        assert_eq!(mrz.birth_date, "740812");
        assert_eq!(mrz.sex, Sex::Female);
        assert_eq!(mrz.expiry_date, "120415");
        assert_eq!(mrz.optional_data, "ZE184226B");
        assert_eq!(format!("{mrz:?}"), "Mrz { <redacted> }");
        assert_eq!(Mrz::from_td3(&format!("{LINE1}{LINE2}")).unwrap(), mrz);
    }

    #[test]
    fn check_digits_by_hand() {
        assert_eq!(check_digit("L898902C3"), Some(6));
        assert_eq!(check_digit("740812"), Some(2));
        assert_eq!(check_digit("120415"), Some(9));
        assert_eq!(check_digit("ZE184226B<<<<<"), Some(1));
    }

    fn with_char(line: &str, at: usize, c: char) -> String {
        let mut chars: Vec<char> = line.chars().collect();
        chars[at] = c;
        chars.into_iter().collect()
    }

    #[test]
    fn each_check_digit_is_named() {
        let cases = [
            (9, '7', MrzField::DocumentNumber),
            (19, '3', MrzField::BirthDate),
            (27, '0', MrzField::ExpiryDate),
            (42, '2', MrzField::OptionalData),
            (43, '1', MrzField::Composite),
        ];
        for (at, c, field) in cases {
            let line2 = with_char(LINE2, at, c);
            assert_eq!(Mrz::from_lines(&[LINE1, &line2]), Err(MrzError::CheckDigit(field)), "{field}");
        }
    }

    #[test]
    fn shape_errors() {
        assert_eq!(Mrz::from_lines(&[LINE1]), Err(MrzError::LineCount(1)));
        assert_eq!(Mrz::from_lines(&[LINE1, &LINE2[..40]]), Err(MrzError::LineLength { line: 2, len: 40 }));
        let bad = with_char(LINE1, 7, 'e');
        assert_eq!(
            Mrz::from_lines(&[bad.as_str(), LINE2]),
            Err(MrzError::InvalidCharacter { line: 1, position: 7 })
        );
        let visa = with_char(LINE1, 0, 'V');
        assert_eq!(Mrz::from_lines(&[visa.as_str(), LINE2]), Err(MrzError::NotPassport));
    }

    proptest! {
        #[test]
        fn never_panics(a in ".{0,60}", b in "[A-Z0-9<]{44}", c in any::<String>()) {
            let _ = Mrz::from_lines(&[a.as_str(), b.as_str()]);
            let _ = Mrz::from_lines(&[b.as_str(), a.as_str()]);
            let _ = Mrz::from_td3(&c);
            let _ = Mrz::from_td3(&format!("{b}{a}"));
        }
    }

    #[test]
    fn keyed_information_is_checked_field_by_field() {
        assert_eq!(verify_information("L898902C3674081221204159"), Ok(()));
        assert_eq!(verify_information("AB123<<<<774081221204159"), Ok(()));
        assert_eq!(verify_information("L898902C3774081221204159"), Err(MrzError::CheckDigit(MrzField::DocumentNumber)));
        assert_eq!(verify_information("L898902C3674081231204159"), Err(MrzError::CheckDigit(MrzField::BirthDate)));
        assert_eq!(verify_information("L898902C3674131221204159"), Err(MrzError::InvalidDate(MrzField::BirthDate)));
        assert!(verify_information("L898902C36740812212041").is_err());
        assert!(verify_information("l898902C3674081221204159").is_err());
    }
}
