//! What the kiosk says on each screen when the person turned on "read aloud": the title, what
//! to do, and which key does what (see [`super::keypad`]). From the same message files as the
//! screens, so the spoken and the written words agree.

use kiosk_config::messages::Messages;

use super::text::{self as tx, Texts};
use super::{FieldState, Language, MrzField, MrzNotice, ReceiptStatus, Screen, SocialStep};

/// The prompt for `screen` with the built-in messages.
pub fn spoken_text(screen: &Screen, language: Language) -> String {
    match tx::embedded_messages() {
        Ok(messages) => spoken_text_with(screen, language, messages),
        Err(e) => {
            tracing::error!(error = %e, "built-in messages unusable; nothing to say");
            String::new()
        }
    }
}

/// The prompt for `screen` with `messages`.
pub fn spoken_text_with(screen: &Screen, language: Language, messages: &Messages) -> String {
    let t = Texts::new(messages, language);
    let mut parts: Vec<String> = Vec::new();
    // Every part ends a sentence, so the voice pauses after a title too.
    let mut say = |s: &str| {
        let s = s.trim();
        if s.is_empty() {
            return;
        }
        let mut part = s.to_owned();
        if !s.ends_with(['.', '!', '?', '…', ':']) {
            part.push('.');
        }
        parts.push(part);
    };
    match screen {
        Screen::Welcome => {
            say(t.get("welcome.title"));
            say(t.get("welcome.body"));
            say(t.get("welcome.spoken"));
        }
        Screen::Consent { text, page, can_accept, .. } => {
            say(t.get("consent.title"));
            if *page == 0 {
                // Read in full: someone who cannot see the pages hears the whole text.
                say(t.get("consent.spoken_text"));
                say(&text.split_whitespace().collect::<Vec<_>>().join(" "));
            } else {
                say(&t.fill("consent.spoken_page", &[("page", &(u32::from(*page) + 1).to_string())]));
            }
            say(t.get(if *can_accept { "consent.spoken_accept" } else { "consent.spoken_next" }));
        }
        Screen::PlaceDocument => {
            say(t.get("document.place_title"));
            say(t.get("document.place_body"));
            say(t.get("document.place_spoken"));
        }
        // What to type and how the field stands; never the characters typed (people stand by).
        Screen::MrzEntry { fields, active, notice, .. } => {
            match notice {
                Some(MrzNotice::CheckField) => say(t.get("keyed.check_field")),
                Some(MrzNotice::ChipRefused { attempts_left }) => {
                    say(&t.fill("keyed.chip_refused", &[("attempts", &attempts_left.to_string())]))
                }
                None => {}
            }
            match fields[active.index()].state {
                FieldState::Wrong => say(t.get("keyed.wrong")),
                FieldState::Valid => say(t.get("keyed.valid")),
                FieldState::Empty | FieldState::Partial => {}
            }
            say(t.get(match active {
                MrzField::DocumentNumber => "keyed.spoken_number",
                MrzField::BirthDate => "keyed.spoken_birth",
                MrzField::ExpiryDate => "keyed.spoken_expiry",
            }));
            say(t.get("keyed.spoken_keys"));
        }
        Screen::ReadingDocument => {
            say(t.get("document.reading_title"));
            say(t.get("document.reading_hold"));
            say(t.get("document.reading_body"));
        }
        Screen::FaceCapture { guidance, .. } => {
            say(t.get("face.title"));
            say(t.get(tx::guidance(*guidance)));
            say(t.get("face.hint"));
            say(t.get("face.spoken"));
        }
        Screen::Verifying => {
            say(t.get("verifying.title"));
            say(t.get("verifying.body"));
        }
        Screen::AccountIssued {
            account_reference,
            per_transaction_limit_rub,
            daily_limit_rub,
            monthly_limit_rub,
            expires_at,
            can_print,
            receipt,
            ..
        } => {
            say(t.get("issued.title"));
            say(&t.fill("issued.reference", &[("reference", account_reference)]));
            let amount = |n: u64| {
                let key = ["issued.amount_one", "issued.amount_few", "issued.amount_many"]
                    [tx::plural_form(n, language)];
                t.fill(key, &[("amount", &tx::digits(n, language))])
            };
            say(&t.fill(
                "issued.spoken_limits",
                &[
                    ("per_transaction", &amount(*per_transaction_limit_rub)),
                    ("daily", &amount(*daily_limit_rub)),
                    ("monthly", &amount(*monthly_limit_rub)),
                ],
            ));
            say(&t.fill("issued.scan", &[("time", expires_at)]));
            match receipt {
                Some(ReceiptStatus::Printed) => say(t.get("issued.printed")),
                Some(ReceiptStatus::Failed) => say(t.get("issued.print_failed")),
                None => {}
            }
            if *can_print && *receipt != Some(ReceiptStatus::Printed) {
                say(t.get("issued.spoken_print"));
            }
            say(t.get("issued.spoken_next"));
        }
        Screen::SocialPayments { step: SocialStep::Categories, categories, .. } => {
            say(t.get("social.title"));
            say(t.get("social.categories"));
            // Only the first nine have a digit key.
            for (i, c) in categories.iter().take(9).enumerate() {
                let state = t.get(if c.selected { "social.spoken_on" } else { "social.spoken_off" });
                let number = (i + 1).to_string();
                say(&t.fill(
                    "social.spoken_category",
                    &[("number", &number), ("label", &c.label), ("state", state)],
                ));
            }
            say(t.get("social.spoken_keys_categories"));
        }
        Screen::SocialPayments { step: SocialStep::Answer, kinds, .. } => {
            if kinds.is_empty() {
                say(t.get("social.kinds_none"));
            } else {
                say(&format!("{} {}.", t.get("social.kinds"), kinds.join("; ")));
            }
            say(t.get("social.note"));
            say(t.get("social.spoken_keys_answer"));
        }
        Screen::Goodbye { receipt_printed, social_payments_requested } => {
            say(t.get("goodbye.title"));
            say(t.get(if *receipt_printed { "goodbye.passport_and_receipt" } else { "goodbye.passport" }));
            if *social_payments_requested {
                say(t.get("goodbye.social_requested"));
            }
            say(t.get("goodbye.spoken"));
        }
        Screen::Refused { reason } => {
            let args = tx::refusal_args(*reason);
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            for key in tx::refusal(*reason) {
                say(&t.fill(key, &args));
            }
            say(t.get("refused.spoken"));
        }
        Screen::OutOfService => {
            say(t.get("out_of_service.title"));
            say(t.get("out_of_service.body"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::{keypad::button_for_key, Choice, Guidance, Refusal};
    use kiosk_hal::input::Key;

    fn issued(can_print: bool, receipt: Option<ReceiptStatus>) -> Screen {
        crate::testing::issued_screen("KA1.x.y", can_print, receipt)
    }

    #[test]
    fn welcome_says_what_it_is_and_which_key_starts() {
        let ru = spoken_text(&Screen::Welcome, Language::Ru);
        assert!(ru.starts_with("Откройте счёт за 5 минут."), "{ru}");
        assert!(ru.contains("паспорт с чипом") && ru.contains("Ввод"), "{ru}");
        let en = spoken_text(&Screen::Welcome, Language::En);
        assert!(en.contains("press Enter") && !en.contains('{'), "{en}");
        assert_eq!(button_for_key(&Screen::Welcome, Key::Enter), Some(crate::ui::ButtonId::Start));
    }

    #[test]
    fn consent_is_read_in_full_on_the_first_page_and_keys_follow_can_accept() {
        let text = "Я даю согласие.\n\nНа обработку данных.";
        let first = Screen::Consent { version: "v1".into(), text: text.into(), page: 0, can_accept: false };
        let said = spoken_text(&first, Language::Ru);
        assert!(said.contains("Я даю согласие. На обработку данных."), "{said}");
        assert!(said.contains("следующей странице") && said.contains("Отмена"), "{said}");
        assert!(!said.contains("Чтобы согласиться"), "accepting is not offered yet: {said}");
        let later = Screen::Consent { version: "v1".into(), text: text.into(), page: 2, can_accept: true };
        let said = spoken_text(&later, Language::Ru);
        assert!(said.contains("Страница 3.") && !said.contains("Я даю согласие"), "{said}");
        assert!(said.contains("Чтобы согласиться, нажмите Ввод"), "{said}");
    }

    #[test]
    fn account_screen_speaks_limits_in_words_and_the_receipt() {
        let said = spoken_text(&issued(true, None), Language::Ru);
        assert!(said.contains("15\u{a0}000 рублей") && said.contains("200\u{a0}000 рублей"), "{said}");
        assert!(said.contains("D-4821") && said.contains("14:35") && said.contains("цифру 1"), "{said}");
        assert!(!said.contains('₽'), "a speech engine reads words, not signs: {said}");
        let failed = spoken_text(&issued(false, Some(ReceiptStatus::Failed)), Language::En);
        assert!(failed.contains("could not be printed") && failed.contains("account is fine"), "{failed}");
        assert!(!failed.contains("press 1"), "{failed}");
        let printed = spoken_text(&issued(true, Some(ReceiptStatus::Printed)), Language::En);
        assert!(printed.contains("Receipt printed") && !printed.contains("press 1"), "{printed}");
    }

    #[test]
    fn social_payments_name_each_digit_and_who_decides() {
        let screen = |step| Screen::SocialPayments {
            step,
            categories: vec![
                Choice { label: "Есть инвалидность".into(), selected: true },
                Choice { label: "Уже получаю пенсию".into(), selected: false },
            ],
            kinds: vec!["Пенсия по инвалидности".into()],
        };
        let said = spoken_text(&screen(SocialStep::Categories), Language::Ru);
        assert!(said.starts_with("Получать пенсии и пособия на этот счёт?"), "{said}");
        assert!(said.contains("Цифра 1: Есть инвалидность, отмечено."), "{said}");
        assert!(said.contains("Цифра 2: Уже получаю пенсию, не отмечено."), "{said}");
        assert!(said.contains("Ввод") && said.contains("Отмена") && !said.contains("Пенсия по"), "{said}");
        let said = spoken_text(&screen(SocialStep::Answer), Language::Ru);
        assert!(said.contains("Социальный фонд России") && said.contains("Пенсия по инвалидности"), "{said}");
        assert!(said.contains("Ввод") && said.contains("Отмена") && said.contains("стрелку вверх"), "{said}");
        assert!(!said.contains("Цифра 1"), "the ticks are on the first step: {said}");
        let none = Screen::SocialPayments { step: SocialStep::Answer, categories: vec![], kinds: vec![] };
        let said = spoken_text(&none, Language::En);
        assert!(
            said.contains("Nothing matches") && said.contains("up arrow") && !said.contains("Key 1"),
            "{said}"
        );
        let keys = [(Key::Enter, "Enter"), (Key::Cancel, "Cancel"), (Key::Up, "up arrow")];
        for step in [SocialStep::Categories, SocialStep::Answer] {
            let said = spoken_text(&screen(step), Language::En);
            for (key, name) in keys {
                // What is said about a key and what the key does agree.
                assert_eq!(
                    button_for_key(&screen(step), key).is_some(),
                    said.contains(name),
                    "{step:?} {name}: {said}"
                );
            }
        }
    }

    #[test]
    fn every_screen_has_something_to_say_in_both_languages() {
        let screens = [
            Screen::Welcome,
            Screen::PlaceDocument,
            Screen::ReadingDocument,
            Screen::FaceCapture { guidance: Some(Guidance::TurnLeft), face_box: None, preview: None },
            Screen::Verifying,
            issued(false, None),
            Screen::Goodbye { receipt_printed: true, social_payments_requested: true },
            Screen::Refused { reason: Refusal::Cancelled },
            Screen::OutOfService,
        ];
        for screen in &screens {
            for lang in [Language::Ru, Language::En] {
                let said = spoken_text(screen, lang);
                assert!(said.len() > 20 && !said.contains('{') && !said.contains("  "), "{screen:?}: {said}");
                // A message key never leaks into speech.
                let key_like = |w: &str| {
                    let w = w.trim_end_matches(['.', ',']);
                    w.contains('.') && w.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
                };
                assert!(!said.split_whitespace().any(key_like), "{said}");
            }
        }
        let turn = spoken_text(&screens[3], Language::En);
        assert!(turn.contains("turn your head to the left"), "{turn}");
        let bye = spoken_text(&screens[6], Language::Ru);
        assert!(bye.contains("паспорт и чек") && bye.contains("Социальный фонд"), "{bye}");
    }
}
