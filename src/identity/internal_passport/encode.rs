//! Writing the machine-readable record from the data the page prints: what the issuing office
//! does. The simulator prints pages with it and the cross-check compares the visual zone,
//! encoded by the same rules, with the record read.
//!
//! Name shortening, MVD order No. 773 of 16.11.2020, appendix 24 (line 1, positions 6-44):
//! surname and name are separated by two fillers, name and patronymic and the parts of compound
//! names by one; a name shorter than 39 characters is padded with fillers; if surname and name
//! with their fillers take 37 characters or fewer, the patronymic is cut at the 44th character
//! of the line; if they take 38 or more, the name is cut at the 42nd character and the
//! patronymic's first letter follows one filler. The regulation's last case (a surname longer
//! than 34 characters) is cut off in the copies available to us; we shorten the surname to 34
//! characters followed by `<<`, the name's initial, `<` and the patronymic's initial, the only
//! layout that fills 39 positions the same way (see docs/INTERNAL-PASSPORT.md).

use super::mrz::{LINE_LEN, NAME_FIELD_LEN};
use super::translit::name_to_mrz;
use crate::identity::mrz::{check_digit, Sex};
use time::Date;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    #[error("the {0} has a character that is not a Russian letter, a hyphen or a space")]
    Name(&'static str),
    #[error("the {0} is not in the form the internal passport prints")]
    Field(&'static str),
}

/// The holder's and the document's data as the photo page prints them.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct PageData {
    /// Cyrillic, as printed (ПЕТРОВ-ВОДКИН).
    pub surname: String,
    pub given_name: String,
    /// Empty when the holder has none.
    pub patronymic: String,
    #[zeroize(skip)]
    pub sex: Sex,
    #[zeroize(skip)]
    pub birth_date: Date,
    /// Four digits.
    pub series: String,
    /// Six digits.
    pub number: String,
    #[zeroize(skip)]
    pub issue_date: Date,
    /// Six digits, or NNN-NNN as printed.
    pub division_code: String,
}

impl std::fmt::Debug for PageData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageData { <redacted> }")
    }
}

/// Positions 6-44 of line 1 from the Cyrillic names, shortened by the regulation's rules.
pub fn name_field(surname: &str, given_name: &str, patronymic: &str) -> Result<String, EncodeError> {
    let s = name_to_mrz(surname).ok_or(EncodeError::Name("surname"))?;
    let n = if given_name.trim().is_empty() {
        String::new()
    } else {
        name_to_mrz(given_name).ok_or(EncodeError::Name("name"))?
    };
    let p = if patronymic.trim().is_empty() {
        String::new()
    } else {
        name_to_mrz(patronymic).ok_or(EncodeError::Name("patronymic"))?
    };
    let initial = |w: &str| w.chars().next().map(String::from).unwrap_or_default();
    let surname_and_name = format!("{s}<<{n}");
    let full = if p.is_empty() { surname_and_name.clone() } else { format!("{surname_and_name}<{p}") };
    let field =
        if full.len() <= NAME_FIELD_LEN || p.is_empty() || surname_and_name.len() <= NAME_FIELD_LEN - 2 {
            // Fits, or only the patronymic (or, without one, the name) is cut at the line's end.
            full.chars().take(NAME_FIELD_LEN).collect::<String>()
        } else if s.len() <= 34 {
            let cut: String = surname_and_name.chars().take(NAME_FIELD_LEN - 2).collect();
            format!("{cut}<{}", initial(&p))
        } else {
            let cut: String = s.chars().take(34).collect();
            format!("{cut}<<{}<{}", initial(&n), initial(&p))
        };
    Ok(format!("{field:<<width$}", width = NAME_FIELD_LEN))
}

fn yymmdd(d: Date) -> String {
    format!("{:02}{:02}{:02}", d.year().rem_euclid(100), u8::from(d.month()), d.day())
}

fn check(field: &str) -> char {
    // Only digits and fillers reach here.
    char::from(b'0' + check_digit(field).unwrap_or(0))
}

/// The two lines of the record.
pub fn encode(page: &PageData) -> Result<[String; 2], EncodeError> {
    let all_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(&page.series, 4) {
        return Err(EncodeError::Field("series"));
    }
    if !all_digits(&page.number, 6) {
        return Err(EncodeError::Field("number"));
    }
    let division: String = page.division_code.chars().filter(|c| *c != '-').collect();
    if !all_digits(&division, 6) {
        return Err(EncodeError::Field("division code"));
    }
    if !(2000..2100).contains(&page.issue_date.year()) {
        return Err(EncodeError::Field("issue date"));
    }
    if !(1900..2100).contains(&page.birth_date.year()) {
        return Err(EncodeError::Field("birth date"));
    }
    let sex = match page.sex {
        Sex::Male => 'M',
        Sex::Female => 'F',
        Sex::Unspecified => return Err(EncodeError::Field("sex")),
    };
    let line1 = format!("PNRUS{}", name_field(&page.surname, &page.given_name, &page.patronymic)?);
    // Series, number and division code are ASCII digits of checked lengths (above), so the
    // byte ranges below fall on characters and inside the lines.
    let number = format!("{}{}", &page.series[..3], page.number);
    let birth = yymmdd(page.birth_date);
    let optional = format!("{}{}{division}<", &page.series[3..], yymmdd(page.issue_date));
    let mut line2 = format!(
        "{number}{}RUS{birth}{}{sex}<<<<<<<{optional}{}",
        check(&number),
        check(&birth),
        check(&optional)
    );
    let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
    line2.push(check(&composite));
    debug_assert_eq!((line1.len(), line2.len()), (LINE_LEN, LINE_LEN));
    Ok([line1, line2])
}
