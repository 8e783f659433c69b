//! The visual zone (what OCR read in Cyrillic from the page) against the machine-readable
//! record: the record is re-derived from the visual zone by the issuing office's own rules
//! (`encode::name_field`: the `translit` table and the shortening of long names) and compared
//! character for character, so a shortened name is compared exactly as it was shortened.

use super::encode::name_field;
use super::mrz::InternalMrz;
use super::translit::name_to_mrz;
use crate::identity::mrz::Sex;
use time::Date;

/// What OCR read from the visual zone; `None` where it read nothing usable.
#[derive(Clone, Default, PartialEq, Eq, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct VisualZone {
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    #[zeroize(skip)]
    pub birth_date: Option<Date>,
    #[zeroize(skip)]
    pub sex: Option<Sex>,
    /// Four digits.
    pub series: Option<String>,
    /// Six digits.
    pub number: Option<String>,
    #[zeroize(skip)]
    pub issue_date: Option<Date>,
    /// Six digits.
    pub division_code: Option<String>,
}

impl std::fmt::Debug for VisualZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisualZone { <redacted> }")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Surname,
    GivenName,
    Patronymic,
    BirthDate,
    Sex,
    SeriesAndNumber,
    IssueDate,
    DivisionCode,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Surname => "surname",
            Self::GivenName => "given_name",
            Self::Patronymic => "patronymic",
            Self::BirthDate => "birth_date",
            Self::Sex => "sex",
            Self::SeriesAndNumber => "series_and_number",
            Self::IssueDate => "issue_date",
            Self::DivisionCode => "division_code",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    Match,
    Mismatch,
    NotRead,
}

/// Field by field; no values, so it may be logged and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossCheck {
    pub fields: Vec<(Field, Agreement)>,
}

/// The fields that must be read and agree for the page to pass.
pub const REQUIRED: [Field; 3] = [Field::Surname, Field::GivenName, Field::BirthDate];

impl CrossCheck {
    pub fn agreement(&self, field: Field) -> Agreement {
        self.fields.iter().find(|(f, _)| *f == field).map_or(Agreement::NotRead, |&(_, a)| a)
    }

    /// Every required field read and agreeing, and nothing read that disagrees.
    pub fn passed(&self) -> bool {
        REQUIRED.iter().all(|&f| self.agreement(f) == Agreement::Match)
            && self.fields.iter().all(|(_, a)| *a != Agreement::Mismatch)
    }

    pub fn mismatches(&self) -> impl Iterator<Item = Field> + '_ {
        self.fields.iter().filter(|(_, a)| *a == Agreement::Mismatch).map(|&(f, _)| f)
    }
}

fn agree<T: PartialEq>(read: Option<T>, record: T) -> Agreement {
    match read {
        None => Agreement::NotRead,
        Some(v) if v == record => Agreement::Match,
        Some(_) => Agreement::Mismatch,
    }
}

/// A component read from the page against the record's, allowing for the record's shortening.
fn name_agrees(read: Option<&str>, record: &str, shortened: bool) -> Agreement {
    let Some(read) = read.filter(|r| !r.trim().is_empty()) else {
        return Agreement::NotRead;
    };
    match name_to_mrz(read) {
        Some(m) if m == record || (shortened && !record.is_empty() && m.starts_with(record)) => {
            Agreement::Match
        }
        _ => Agreement::Mismatch,
    }
}

pub fn cross_check(vz: &VisualZone, mrz: &InternalMrz) -> CrossCheck {
    let shortened = mrz.name_may_be_shortened();
    let field = mrz.name_field.trim_end_matches('<');
    let (surname, rest) = field.split_once("<<").unwrap_or((field, ""));
    let (given, patronymic) = rest.split_once('<').unwrap_or((rest, ""));
    let mut names = [
        (Field::Surname, name_agrees(vz.surname.as_deref(), surname, shortened)),
        (Field::GivenName, name_agrees(vz.given_name.as_deref(), given, shortened)),
        (Field::Patronymic, name_agrees(vz.patronymic.as_deref(), patronymic, shortened)),
    ];
    // With all three read, the record the office would print from them must be this one.
    if let (Some(s), Some(n), Some(p)) = (&vz.surname, &vz.given_name, &vz.patronymic) {
        if names.iter().all(|(_, a)| *a == Agreement::Match)
            && name_field(s, n, p).ok().as_deref() != Some(&mrz.name_field)
        {
            names[2].1 = Agreement::Mismatch;
        }
    }
    let series_and_number = match (&vz.series, &vz.number) {
        (Some(s), Some(n)) => {
            agree(Some((s.as_str(), n.as_str())), (mrz.series.as_str(), mrz.number.as_str()))
        }
        (None, None) => Agreement::NotRead,
        // Half of it read: what was read must agree.
        (s, n) => {
            let ok =
                s.as_ref().is_none_or(|s| *s == mrz.series) && n.as_ref().is_none_or(|n| *n == mrz.number);
            if ok {
                Agreement::NotRead
            } else {
                Agreement::Mismatch
            }
        }
    };
    let mut fields = names.to_vec();
    fields.extend([
        (Field::BirthDate, agree(vz.birth_date, mrz.birth_date)),
        (Field::Sex, agree(vz.sex, mrz.sex)),
        (Field::SeriesAndNumber, series_and_number),
        (Field::IssueDate, agree(vz.issue_date, mrz.issue_date)),
        (Field::DivisionCode, agree(vz.division_code.as_deref(), mrz.division_code.as_str())),
    ]);
    CrossCheck { fields }
}
