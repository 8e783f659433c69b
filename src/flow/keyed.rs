//! The keyed-in MRZ, for readers without an MRZ window (0x70 answered "unknown command"): the
//! person types the three fields of the data page's bottom line that the chip's access key is
//! made of, each followed by its check digit as printed there:
//!
//! | field | typed | checked as they type |
//! |---|---|---|
//! | document number | 1–9 letters or digits, then its check digit | ICAO 9303 7-3-1 check digit |
//! | date of birth | `YYMMDD`, then its check digit | month and day, check digit |
//! | date of expiry | `YYMMDD`, then its check digit | month and day, check digit |
//!
//! [`MrzEntry`] holds what was typed: personal data, so it is **not** in the flow's `State`
//! (the shell keeps it with the session's data; it is wiped when dropped and its `Debug` shows
//! nothing). The flow keeps only the [`FieldState`] of each field, which says nothing of the
//! characters, and decides with them.

/// One of the three keyed fields, in the order they are asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzField {
    DocumentNumber,
    BirthDate,
    ExpiryDate,
}

impl MrzField {
    pub const ALL: [MrzField; 3] = [Self::DocumentNumber, Self::BirthDate, Self::ExpiryDate];

    pub fn index(self) -> usize {
        match self {
            Self::DocumentNumber => 0,
            Self::BirthDate => 1,
            Self::ExpiryDate => 2,
        }
    }

    /// The next field to ask for; `None` after the last.
    pub fn next(self) -> Option<Self> {
        Self::ALL.get(self.index() + 1).copied()
    }

    /// The field before; `None` before the first.
    pub fn previous(self) -> Option<Self> {
        self.index().checked_sub(1).and_then(|i| Self::ALL.get(i).copied())
    }

    /// Most characters the field takes, its check digit included.
    pub fn max_len(self) -> usize {
        match self {
            Self::DocumentNumber => NUMBER_LEN + 1,
            Self::BirthDate | Self::ExpiryDate => DATE_LEN + 1,
        }
    }

    /// Letters are typed only in the document number.
    pub fn takes_letters(self) -> bool {
        self == Self::DocumentNumber
    }
}

/// The document number field of a TD3 MRZ.
const NUMBER_LEN: usize = 9;
const DATE_LEN: usize = 6;

/// What the flow knows of a field: never its characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldState {
    #[default]
    Empty,
    /// Being typed: not yet complete, nothing wrong so far.
    Partial,
    /// Complete (or impossible as typed: month 13, day 32) and its check digit or date is wrong.
    Wrong,
    /// Complete and its check digit matches.
    Valid,
}

/// An edit the person made with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzEdit {
    /// A character key: `0`–`9`, `A`–`Z` (letters only in the document number).
    Type(u8),
    Backspace,
    /// Empty the field.
    Clear,
    /// The person says the field is complete ("next"): nothing changes, the field is judged as
    /// [`MrzEntry::finished_state`].
    Done,
}

/// What was typed, field by field (upper-case ASCII). Wiped on drop; `Debug` shows lengths only.
#[derive(Default, Clone)]
pub struct MrzEntry {
    fields: [Vec<u8>; 3],
}

impl std::fmt::Debug for MrzEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = &self.fields;
        write!(f, "MrzEntry {{ <redacted: {} + {} + {} characters> }}", a.len(), b.len(), c.len())
    }
}

impl Drop for MrzEntry {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl MrzEntry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a key to `field` and returns the field's state after it. A character the field
    /// does not take (a letter in a date, anything past its length) changes nothing.
    pub fn apply(&mut self, field: MrzField, edit: MrzEdit) -> FieldState {
        let typed = &mut self.fields[field.index()];
        match edit {
            MrzEdit::Type(c) => {
                let c = c.to_ascii_uppercase();
                let allowed = c.is_ascii_digit() || (field.takes_letters() && c.is_ascii_uppercase());
                if allowed && typed.len() < field.max_len() {
                    typed.push(c);
                }
            }
            MrzEdit::Backspace => {
                if let Some(last) = typed.last_mut() {
                    *last = 0;
                }
                typed.pop();
            }
            MrzEdit::Clear => {
                typed.fill(0);
                typed.clear();
            }
            MrzEdit::Done => return self.finished_state(field),
        }
        self.state(field)
    }

    pub fn state(&self, field: MrzField) -> FieldState {
        let typed = &self.fields[field.index()];
        match field {
            MrzField::DocumentNumber => number_state(typed, false),
            MrzField::BirthDate | MrzField::ExpiryDate => date_state(typed),
        }
    }

    /// The state once the person says the field is done ("next"): a shorter document number is
    /// then complete, so a wrong check digit is wrong rather than still being typed.
    pub fn finished_state(&self, field: MrzField) -> FieldState {
        match field {
            MrzField::DocumentNumber => number_state(&self.fields[0], true),
            other => self.state(other),
        }
    }

    /// What was typed in `field`, for the screen (memory only).
    pub fn text(&self, field: MrzField) -> String {
        self.fields[field.index()].iter().map(|&b| char::from(b)).collect()
    }

    /// The three fields as the MRZ carries them when all are valid: the document number padded
    /// with `<` to 9 characters and each with its check digit ("MRZ information", 24
    /// characters), else `None`.
    pub fn mrz_information(&self) -> Option<String> {
        if MrzField::ALL.iter().any(|f| self.finished_state(*f) != FieldState::Valid) {
            return None;
        }
        let [number, birth, expiry] = &self.fields;
        let (digits, check) = number.split_at(number.len().saturating_sub(1));
        let mut info = String::with_capacity(24);
        info.extend(digits.iter().map(|&b| char::from(b)));
        while info.len() < NUMBER_LEN {
            info.push('<');
        }
        info.extend(check.iter().chain(birth).chain(expiry).map(|&b| char::from(b)));
        Some(info)
    }

    /// Empties every field (overwriting what was typed).
    pub fn wipe(&mut self) {
        for field in &mut self.fields {
            field.fill(0);
            std::hint::black_box(&field);
            field.clear();
        }
    }
}

/// ICAO 9303 7-3-1 check digit of `field` (`0`–`9`, `A`–`Z`, `<`); `None` for other characters.
pub fn check_digit(field: &[u8]) -> Option<u8> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, &c) in field.iter().enumerate() {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            b'<' => 0,
            _ => return None,
        };
        // Reduced as we go: input may be arbitrarily long.
        sum = (sum + value * WEIGHTS[i % 3]) % 10;
    }
    Some(sum as u8)
}

/// Whether the last character of `typed` is the check digit of the ones before it.
fn check_digit_matches(typed: &[u8]) -> bool {
    match typed.split_last() {
        Some((&last, body)) if !body.is_empty() && last.is_ascii_digit() => {
            check_digit(body) == Some(last - b'0')
        }
        _ => false,
    }
}

fn number_state(typed: &[u8], finished: bool) -> FieldState {
    let complete = typed.len() == NUMBER_LEN + 1 || (finished && typed.len() >= 2);
    match (typed.is_empty(), complete, check_digit_matches(typed)) {
        (true, _, _) => FieldState::Empty,
        (_, true, true) => FieldState::Valid,
        (_, true, false) => FieldState::Wrong,
        // A shorter number whose last character happens to be its check digit is shown as
        // valid only when the person says it is done.
        (_, false, _) => FieldState::Partial,
    }
}

fn date_state(typed: &[u8]) -> FieldState {
    if typed.is_empty() {
        return FieldState::Empty;
    }
    let two = |at: usize| typed.get(at..at + 2).map(|d| u32::from(d[0] - b'0') * 10 + u32::from(d[1] - b'0'));
    // Month and day are judged as soon as they are typed.
    if two(2).is_some_and(|month| !(1..=12).contains(&month)) {
        return FieldState::Wrong;
    }
    if let (Some(year), Some(month), Some(day)) = (two(0), two(2), two(4)) {
        if day == 0 || day > days_in_month(year, month) {
            return FieldState::Wrong;
        }
    }
    match typed.len() {
        n if n < DATE_LEN + 1 => FieldState::Partial,
        _ if check_digit_matches(typed) => FieldState::Valid,
        _ => FieldState::Wrong,
    }
}

/// Days in `month` of the two-digit `year` (29 February whenever the year can be a leap year:
/// `00` is 2000).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(entry: &mut MrzEntry, field: MrzField, text: &str) -> FieldState {
        let mut state = entry.state(field);
        for c in text.bytes() {
            state = entry.apply(field, MrzEdit::Type(c));
        }
        state
    }

    /// The ICAO 9303 specimen: L898902C3 6, 740812 2, 120415 9.
    #[test]
    fn the_specimen_is_valid_field_by_field_and_gives_the_mrz_information() {
        let mut e = MrzEntry::new();
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, "L898902C3"), FieldState::Partial);
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, "6"), FieldState::Valid);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "740812"), FieldState::Partial);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "2"), FieldState::Valid);
        assert_eq!(typed(&mut e, MrzField::ExpiryDate, "1204159"), FieldState::Valid);
        assert_eq!(e.mrz_information().as_deref(), Some("L898902C3674081221204159"));
        assert_eq!(format!("{e:?}"), "MrzEntry { <redacted: 10 + 7 + 7 characters> }");
    }

    #[test]
    fn a_wrong_check_digit_is_wrong_as_soon_as_the_field_is_complete_and_backspace_corrects_it() {
        let mut e = MrzEntry::new();
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, "L898902C37"), FieldState::Wrong);
        // Full: more characters are not taken.
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, "1"), FieldState::Wrong);
        assert_eq!(e.apply(MrzField::DocumentNumber, MrzEdit::Backspace), FieldState::Partial);
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, "6"), FieldState::Valid);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "7408123"), FieldState::Wrong);
        assert_eq!(e.mrz_information(), None);
        assert_eq!(e.apply(MrzField::BirthDate, MrzEdit::Clear), FieldState::Empty);
    }

    #[test]
    fn impossible_dates_are_wrong_while_typing_and_letters_are_not_taken_in_dates() {
        let mut e = MrzEntry::new();
        assert_eq!(typed(&mut e, MrzField::BirthDate, "8513"), FieldState::Wrong);
        e.apply(MrzField::BirthDate, MrzEdit::Clear);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "850230"), FieldState::Wrong);
        e.apply(MrzField::BirthDate, MrzEdit::Clear);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "840229"), FieldState::Partial, "a leap year");
        e.apply(MrzField::BirthDate, MrzEdit::Clear);
        assert_eq!(typed(&mut e, MrzField::BirthDate, "85A"), FieldState::Partial);
        assert_eq!(e.text(MrzField::BirthDate), "85");
        assert_eq!(typed(&mut e, MrzField::ExpiryDate, "x"), FieldState::Empty);
    }

    #[test]
    fn a_short_document_number_is_complete_when_the_person_says_so() {
        let mut e = MrzEntry::new();
        // A=10·7 + B=11·3 + 1·1 + 2·7 + 3·3 = 127.
        assert_eq!(check_digit(b"AB123"), Some(7));
        let cd = char::from(b'0' + check_digit(b"AB123").unwrap());
        assert_eq!(typed(&mut e, MrzField::DocumentNumber, &format!("ab123{cd}")), FieldState::Partial);
        assert_eq!(e.finished_state(MrzField::DocumentNumber), FieldState::Valid);
        typed(&mut e, MrzField::BirthDate, "7408122");
        typed(&mut e, MrzField::ExpiryDate, "1204159");
        assert_eq!(e.mrz_information().unwrap(), format!("AB123<<<<{cd}74081221204159"));
        e.apply(MrzField::DocumentNumber, MrzEdit::Backspace);
        let wrong = if cd == '9' { '0' } else { char::from(cd as u8 + 1) };
        typed(&mut e, MrzField::DocumentNumber, &wrong.to_string());
        assert_eq!(e.finished_state(MrzField::DocumentNumber), FieldState::Wrong);
        e.wipe();
        assert_eq!(e.text(MrzField::DocumentNumber), "");
    }

    #[test]
    fn fields_are_asked_in_order() {
        assert_eq!(MrzField::DocumentNumber.next(), Some(MrzField::BirthDate));
        assert_eq!(MrzField::ExpiryDate.next(), None);
        assert_eq!(MrzField::DocumentNumber.previous(), None);
        assert_eq!(MrzField::ExpiryDate.previous(), Some(MrzField::BirthDate));
    }
}
