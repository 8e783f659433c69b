//! The state social payments offer, below the session: which kinds of support a person *may*
//! be entitled to, from the rules in `kiosk-config/social-payments.toml`, their age on the day
//! of the visit (from the chip's birth date), their sex when the chip gives one, and the
//! categories they selected; and the record of their choice.
//!
//! Pure: no I/O, no clock (the caller passes the date), no logging. The kiosk lists and
//! records; it claims nothing. Only with the person's explicit choice
//! (`credit_to_account = true`) does the bank forward a request to the payer, who decides.

pub use kiosk_config::{CategorySet, Kind, SocialRules};

use kiosk_config::Condition;
use time::{Date, Month, OffsetDateTime};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Oldest age taken from a birth date; anything older is treated as an unreadable date.
const MAX_AGE: u32 = 150;
/// The youngest a passport holder at the kiosk is taken to be when a two-digit birth year
/// leaves the century open (14: the age of a Russian passport and of one's own bank card).
const YOUNGEST_HOLDER: i32 = 14;

/// Sex as the passport chip gives it (DG1); unspecified is `None` where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    /// From the MRZ / DG1 field (`<`, unspecified, is `None`).
    pub fn from_mrz(sex: crate::identity::Sex) -> Option<Sex> {
        match sex {
            crate::identity::Sex::Female => Some(Sex::Female),
            crate::identity::Sex::Male => Some(Sex::Male),
            crate::identity::Sex::Unspecified => None,
        }
    }
}

fn digits(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Parses a birth date as the chip gives it: ISO `YYYY-MM-DD`, or the MRZ's `YYMMDD`, whose
/// century is the later one that makes the holder at least 14 on `on`. `None` for anything
/// else, including the MRZ's unknown parts (`<<`) and impossible dates.
pub fn parse_birth_date(text: &str, on: Date) -> Option<Date> {
    let text = text.trim();
    let (year, month, day) = match text.len() {
        10 if text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-' => (
            i32::try_from(digits(text.get(0..4)?)?).ok()?,
            digits(text.get(5..7)?)?,
            digits(text.get(8..10)?)?,
        ),
        6 => {
            let yy = i32::try_from(digits(text.get(0..2)?)?).ok()?;
            let recent = 2000 + yy;
            let year = if recent <= on.year() - YOUNGEST_HOLDER { recent } else { 1900 + yy };
            (year, digits(text.get(2..4)?)?, digits(text.get(4..6)?)?)
        }
        _ => return None,
    };
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}

/// Whole years of age on `on` for someone born on `birth`; `None` when `birth` is after `on`
/// or the age is implausible. Someone born on 29 February is a year older on 28 February of a
/// common year (Civil Code art. 192: a term ending on a day the month lacks ends on its last day).
pub fn age_between(birth: Date, on: Date) -> Option<u32> {
    if birth > on {
        return None;
    }
    let birthday_day = birth.day().min(on.month().length(on.year()));
    let before_birthday = (on.month() as u8, on.day()) < (birth.month() as u8, birthday_day);
    let years = on.year() - birth.year() - i32::from(before_birthday);
    u32::try_from(years).ok().filter(|&a| a <= MAX_AGE)
}

/// Whole years of age on `on` from the chip's birth date text; `None` when it is unknown or
/// not a valid date (then only category-based kinds can be offered).
pub fn age_on(birth_date: &str, on: Date) -> Option<u32> {
    age_between(parse_birth_date(birth_date, on)?, on)
}

/// Whether one condition of a kind holds (see [`Condition`]): its categories (any of them)
/// are selected, and its age bounds hold. With an unknown age a condition with an age bound
/// never holds; with an unknown sex the higher of the sex-specific minimum ages applies.
pub fn holds(condition: &Condition, age: Option<u32>, sex: Option<Sex>, selected: CategorySet) -> bool {
    if !condition.categories.is_empty() && !condition.categories.intersects(selected) {
        return false;
    }
    if !condition.has_age_bound() {
        return true;
    }
    let Some(age) = age else { return false };
    let sex_min = match sex {
        Some(Sex::Female) => condition.min_age_female,
        Some(Sex::Male) => condition.min_age_male,
        None => condition.min_age_female.max(condition.min_age_male),
    };
    let min = condition.min_age.max(sex_min);
    min.is_none_or(|min| age >= min) && condition.max_age.is_none_or(|max| age <= max)
}

/// The kinds of support the person may be entitled to, in the rules file's order: those with
/// at least one condition that holds.
pub fn eligible(
    rules: &SocialRules,
    age: Option<u32>,
    sex: Option<Sex>,
    selected: CategorySet,
) -> Vec<&Kind> {
    rules.kinds().iter().filter(|kind| kind.when.iter().any(|c| holds(c, age, sex, selected))).collect()
}

/// The person's answer to the offer, as the store records it and the core receives it.
/// Categories and kinds are the rules' stable ids (not bit positions, which belong to one
/// rules version). Sensitive (a category can reveal a disability): wiped on drop, `Debug`
/// shows only the account and the decision.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SocialPaymentsChoice {
    #[zeroize(skip)]
    pub account_id: Uuid,
    /// Ids of the categories the person selected, in the rules' order.
    pub categories: Vec<String>,
    /// Ids of the kinds listed to the person, in the rules' order.
    pub kinds_offered: Vec<String>,
    /// The explicit choice: `true` only when the person asked for the payments to be credited
    /// to this account. `false` claims nothing.
    pub credit_to_account: bool,
    pub rules_version: String,
    #[zeroize(skip)]
    pub decided_at: OffsetDateTime,
}

impl SocialPaymentsChoice {
    /// The choice in terms of `rules`: the selected set and the kinds listed become ids.
    pub fn new(
        account_id: Uuid,
        rules: &SocialRules,
        selected: CategorySet,
        offered: &[&Kind],
        credit_to_account: bool,
        decided_at: OffsetDateTime,
    ) -> SocialPaymentsChoice {
        SocialPaymentsChoice {
            account_id,
            categories: rules.category_ids(selected).into_iter().map(str::to_owned).collect(),
            kinds_offered: offered.iter().map(|k| k.id.clone()).collect(),
            credit_to_account,
            rules_version: rules.version().to_owned(),
            decided_at,
        }
    }
}

impl std::fmt::Debug for SocialPaymentsChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialPaymentsChoice")
            .field("account_id", &self.account_id)
            .field("credit_to_account", &self.credit_to_account)
            .field("rules_version", &self.rules_version)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
