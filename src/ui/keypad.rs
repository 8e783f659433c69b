//! The keypad under the screen, for people who cannot see or reach the buttons: Enter is the
//! main action of the screen, Cancel cancels (or declines), the arrows turn the consent pages,
//! the digits tick the social payment categories (1 = the first; the up arrow goes back to
//! them from the answer) and, on the account screen, 1 prints the receipt. [`super::spoken_text`] says the same.

use kiosk_hal::input::Key;

use super::{ButtonId, ReceiptStatus, Screen, SocialStep};

/// The button a key stands for on `screen`, if any.
pub fn button_for_key(screen: &Screen, key: Key) -> Option<ButtonId> {
    match (screen, key) {
        (Screen::Welcome, Key::Enter) => Some(ButtonId::Start),
        (Screen::Consent { can_accept: true, .. }, Key::Enter) => Some(ButtonId::Accept),
        (Screen::Consent { can_accept: false, .. }, Key::Enter) => Some(ButtonId::ScrollDown),
        (Screen::Consent { .. }, Key::Down) => Some(ButtonId::ScrollDown),
        (Screen::Consent { .. }, Key::Up) => Some(ButtonId::ScrollUp),
        (Screen::Consent { .. }, Key::Cancel) => Some(ButtonId::Decline),
        (Screen::PlaceDocument | Screen::FaceCapture { .. }, Key::Cancel) => Some(ButtonId::Cancel),
        // The keyed-in MRZ: digits type, Clear (or ←) erases, Enter goes on, ↑ goes back a field.
        (Screen::MrzEntry { .. }, Key::Digit(d)) if d <= 9 => Some(ButtonId::Char(b'0' + d)),
        (Screen::MrzEntry { .. }, Key::Clear | Key::Left) => Some(ButtonId::Backspace),
        (Screen::MrzEntry { .. }, Key::Enter) => Some(ButtonId::Next),
        (Screen::MrzEntry { .. }, Key::Up) => Some(ButtonId::Back),
        (Screen::MrzEntry { .. }, Key::Cancel) => Some(ButtonId::Cancel),
        (Screen::AccountIssued { .. }, Key::Enter) => Some(ButtonId::Next),
        (Screen::AccountIssued { can_print: true, receipt, .. }, Key::Digit(1))
            if *receipt != Some(ReceiptStatus::Printed) =>
        {
            Some(ButtonId::PrintReceipt)
        }
        (Screen::SocialPayments { .. }, Key::Cancel) => Some(ButtonId::NoThanks),
        (Screen::SocialPayments { step: SocialStep::Categories, .. }, Key::Enter) => Some(ButtonId::Next),
        (Screen::SocialPayments { step: SocialStep::Categories, categories, .. }, Key::Digit(d))
            if d >= 1 && usize::from(d) <= categories.len() =>
        {
            Some(ButtonId::Category(d - 1))
        }
        (Screen::SocialPayments { step: SocialStep::Answer, .. }, Key::Enter) => {
            Some(ButtonId::CreditPayments)
        }
        (Screen::SocialPayments { step: SocialStep::Answer, .. }, Key::Up) => Some(ButtonId::Back),
        (Screen::Goodbye { .. } | Screen::Refused { .. }, Key::Enter) => Some(ButtonId::Finish),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{Choice, Refusal};

    #[test]
    fn enter_is_the_main_action_and_cancel_cancels() {
        let consent =
            |can_accept| Screen::Consent { version: "v".into(), text: "t".into(), page: 0, can_accept };
        assert_eq!(button_for_key(&Screen::Welcome, Key::Enter), Some(ButtonId::Start));
        assert_eq!(button_for_key(&Screen::Welcome, Key::Cancel), None);
        assert_eq!(button_for_key(&consent(false), Key::Enter), Some(ButtonId::ScrollDown));
        assert_eq!(button_for_key(&consent(true), Key::Enter), Some(ButtonId::Accept));
        assert_eq!(button_for_key(&consent(true), Key::Cancel), Some(ButtonId::Decline));
        assert_eq!(button_for_key(&consent(true), Key::Up), Some(ButtonId::ScrollUp));
        assert_eq!(button_for_key(&Screen::PlaceDocument, Key::Cancel), Some(ButtonId::Cancel));
        assert_eq!(button_for_key(&Screen::ReadingDocument, Key::Cancel), None);
        assert_eq!(
            button_for_key(&Screen::Refused { reason: Refusal::Timeout }, Key::Enter),
            Some(ButtonId::Finish)
        );
        assert_eq!(button_for_key(&Screen::OutOfService, Key::Enter), None);
    }

    #[test]
    fn the_keypad_types_the_keyed_mrz() {
        use crate::ui::{KeyedField, MrzField};
        // The letter keys are up: the keypad's digits still type digits.
        let entry = Screen::MrzEntry {
            fields: Default::default(),
            active: MrzField::DocumentNumber,
            letters: Some(0),
            notice: None,
        };
        assert_eq!(button_for_key(&entry, Key::Digit(7)), Some(ButtonId::Char(b'7')));
        assert_eq!(button_for_key(&entry, Key::Digit(0)), Some(ButtonId::Char(b'0')));
        assert_eq!(button_for_key(&entry, Key::Digit(10)), None);
        assert_eq!(button_for_key(&entry, Key::Clear), Some(ButtonId::Backspace));
        assert_eq!(button_for_key(&entry, Key::Enter), Some(ButtonId::Next));
        assert_eq!(button_for_key(&entry, Key::Up), Some(ButtonId::Back));
        assert_eq!(button_for_key(&entry, Key::Cancel), Some(ButtonId::Cancel));
        let _: [KeyedField; 3] = Default::default();
    }

    #[test]
    fn digits_tick_categories_and_print() {
        let social = |step| Screen::SocialPayments {
            step,
            categories: vec![
                Choice { label: "a".into(), selected: false },
                Choice { label: "b".into(), selected: true },
            ],
            kinds: vec![],
        };
        let ticks = social(SocialStep::Categories);
        assert_eq!(button_for_key(&ticks, Key::Digit(1)), Some(ButtonId::Category(0)));
        assert_eq!(button_for_key(&ticks, Key::Digit(2)), Some(ButtonId::Category(1)));
        assert_eq!(button_for_key(&ticks, Key::Digit(3)), None);
        assert_eq!(button_for_key(&ticks, Key::Digit(0)), None);
        assert_eq!(button_for_key(&ticks, Key::Enter), Some(ButtonId::Next));
        assert_eq!(button_for_key(&ticks, Key::Cancel), Some(ButtonId::NoThanks));
        assert_eq!(button_for_key(&ticks, Key::Up), None);
        let answer = social(SocialStep::Answer);
        assert_eq!(button_for_key(&answer, Key::Enter), Some(ButtonId::CreditPayments));
        assert_eq!(button_for_key(&answer, Key::Cancel), Some(ButtonId::NoThanks));
        assert_eq!(button_for_key(&answer, Key::Up), Some(ButtonId::Back));
        assert_eq!(button_for_key(&answer, Key::Digit(1)), None, "the ticks are not on this step");
        let issued = |can_print, receipt| crate::testing::issued_screen("t", can_print, receipt);
        assert_eq!(button_for_key(&issued(true, None), Key::Digit(1)), Some(ButtonId::PrintReceipt));
        assert_eq!(button_for_key(&issued(false, None), Key::Digit(1)), None);
        assert_eq!(button_for_key(&issued(true, Some(ReceiptStatus::Printed)), Key::Digit(1)), None);
        assert_eq!(button_for_key(&issued(true, None), Key::Enter), Some(ButtonId::Next));
    }
}
