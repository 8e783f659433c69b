//! The words on the screens, from the message files of `kiosk-config` (`messages/ru.toml`,
//! `messages/en.toml`): here only the lookup, the keys of the enum-driven texts, and money.

use std::sync::OnceLock;

use kiosk_config::messages::Messages;
use kiosk_config::ConsentLanguage;

use super::error::UiError;
use super::{Guidance, Language, Refusal};

/// The messages compiled into this build, parsed and checked once.
pub fn embedded_messages() -> Result<&'static Messages, UiError> {
    static MESSAGES: OnceLock<Messages> = OnceLock::new();
    if let Some(m) = MESSAGES.get() {
        return Ok(m);
    }
    let parsed = Messages::embedded()?;
    Ok(MESSAGES.get_or_init(|| parsed))
}

pub(crate) fn config_language(lang: Language) -> ConsentLanguage {
    match lang {
        Language::Ru => ConsentLanguage::Ru,
        Language::En => ConsentLanguage::En,
    }
}

/// The messages in one language.
#[derive(Clone, Copy)]
pub(crate) struct Texts<'a> {
    pub messages: &'a Messages,
    pub lang: Language,
}

impl<'a> Texts<'a> {
    pub fn new(messages: &'a Messages, lang: Language) -> Self {
        Self { messages, lang }
    }

    /// The same messages in the other language (the Welcome screen shows both).
    pub fn other(&self) -> Texts<'a> {
        let lang = match self.lang {
            Language::Ru => Language::En,
            Language::En => Language::Ru,
        };
        Texts { messages: self.messages, lang }
    }

    /// The text of `key`. Checked message files hold every key this build uses (a test renders
    /// every screen to make sure); were one missing, the key itself shows, never a panic.
    pub fn get(&self, key: &'static str) -> &'a str {
        #[cfg(test)]
        record(key);
        match self.messages.get(config_language(self.lang), key) {
            Some(text) => text,
            None => {
                tracing::warn!(key, "message missing");
                key
            }
        }
    }

    /// The text of `key` with its `{placeholders}` filled in.
    pub fn fill(&self, key: &'static str, args: &[(&str, &str)]) -> String {
        kiosk_config::messages::fill(self.get(key), args)
    }
}

#[cfg(test)]
thread_local! {
    /// Keys looked up on this thread, for the test that every message is used and present.
    pub(crate) static LOOKED_UP: std::cell::RefCell<std::collections::BTreeSet<&'static str>> =
        const { std::cell::RefCell::new(std::collections::BTreeSet::new()) };
}

#[cfg(test)]
fn record(key: &'static str) {
    LOOKED_UP.with(|k| k.borrow_mut().insert(key));
}

pub(crate) const STEPS: [&str; 4] = ["steps.consent", "steps.passport", "steps.face", "steps.account"];

pub(crate) fn guidance(g: Option<Guidance>) -> &'static str {
    match g {
        None => "face.guidance.default",
        Some(Guidance::LookAtCamera) => "face.guidance.look_at_camera",
        Some(Guidance::ComeCloser) => "face.guidance.come_closer",
        Some(Guidance::MoveBack) => "face.guidance.move_back",
        Some(Guidance::OnePersonOnly) => "face.guidance.one_person_only",
        Some(Guidance::HoldStill) => "face.guidance.hold_still",
        Some(Guidance::TooDark) => "face.guidance.too_dark",
        Some(Guidance::TooBright) => "face.guidance.too_bright",
        Some(Guidance::UnevenLight) => "face.guidance.uneven_light",
        Some(Guidance::TurnLeft) => "face.guidance.turn_left",
        Some(Guidance::TurnRight) => "face.guidance.turn_right",
    }
}

/// Title, what happened, and what to do next.
pub(crate) fn refusal(reason: Refusal) -> [&'static str; 3] {
    match reason {
        Refusal::ConsentDeclined => [
            "refusal.consent_declined.title",
            "refusal.consent_declined.what",
            "refusal.consent_declined.next",
        ],
        Refusal::DocumentUnreadable => [
            "refusal.document_unreadable.title",
            "refusal.document_unreadable.what",
            "refusal.document_unreadable.next",
        ],
        Refusal::DocumentNotTrusted => [
            "refusal.document_not_trusted.title",
            "refusal.document_not_trusted.what",
            "refusal.document_not_trusted.next",
        ],
        Refusal::DocumentExpired => [
            "refusal.document_expired.title",
            "refusal.document_expired.what",
            "refusal.document_expired.next",
        ],
        Refusal::Underage { .. } => ["refusal.underage.title", "refusal.underage.what", "refusal.underage.next"],
        Refusal::NoFaceFound => {
            ["refusal.no_face_found.title", "refusal.no_face_found.what", "refusal.no_face_found.next"]
        }
        Refusal::FaceMismatch => {
            ["refusal.face_mismatch.title", "refusal.face_mismatch.what", "refusal.face_mismatch.next"]
        }
        Refusal::LivenessFailed => {
            ["refusal.liveness_failed.title", "refusal.liveness_failed.what", "refusal.liveness_failed.next"]
        }
        Refusal::AlreadyEnrolled => [
            "refusal.already_enrolled.title",
            "refusal.already_enrolled.what",
            "refusal.already_enrolled.next",
        ],
        Refusal::Timeout => ["refusal.timeout.title", "refusal.timeout.what", "refusal.timeout.next"],
        Refusal::Cancelled => ["refusal.cancelled.title", "refusal.cancelled.what", "refusal.cancelled.next"],
        Refusal::KeyedMrzRefused => [
            "refusal.keyed_mrz_refused.title",
            "refusal.keyed_mrz_refused.what",
            "refusal.keyed_mrz_refused.next",
        ],
    }
}

/// The `{placeholders}` of a refusal's texts.
pub(crate) fn refusal_args(reason: Refusal) -> Vec<(&'static str, String)> {
    match reason {
        Refusal::Underage { min_age } => vec![("min_age", min_age.to_string())],
        _ => Vec::new(),
    }
}

/// "50 000 ₽" in Russian, "50,000 ₽" in English. No-break spaces keep the amount on one line.
pub fn money(amount_rub: u64, lang: Language) -> String {
    let mut out = digits(amount_rub, lang);
    out.push('\u{a0}');
    out.push('₽');
    out
}

/// The amount grouped by thousands, without the currency.
pub(crate) fn digits(amount_rub: u64, lang: Language) -> String {
    let digits = amount_rub.to_string();
    let sep = match lang {
        Language::Ru => '\u{a0}',
        Language::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// Which plural form of "rouble" goes with `n`: 0 one, 1 few, 2 many (Russian rules; English
/// uses "one" for 1 only).
pub(crate) fn plural_form(n: u64, lang: Language) -> usize {
    match lang {
        Language::En => usize::from(n != 1) * 2,
        Language::Ru => match (n % 10, n % 100) {
            (1, r) if r != 11 => 0,
            (2..=4, r) if !(12..=14).contains(&r) => 1,
            _ => 2,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_with_the_rouble_sign() {
        assert_eq!(money(50_000, Language::Ru), "50\u{a0}000\u{a0}₽");
        assert_eq!(money(1_500_000, Language::En), "1,500,000\u{a0}₽");
        assert_eq!(money(0, Language::Ru), "0\u{a0}₽");
        assert_eq!(money(999, Language::Ru), "999\u{a0}₽");
    }

    #[test]
    fn russian_plurals() {
        let ru = |n| plural_form(n, Language::Ru);
        assert_eq!(
            [ru(1), ru(21), ru(2), ru(34), ru(5), ru(11), ru(12), ru(50_000), ru(101)],
            [0, 0, 1, 1, 2, 2, 2, 2, 0]
        );
        assert_eq!(
            [plural_form(1, Language::En), plural_form(2, Language::En), plural_form(0, Language::En)],
            [0, 2, 2]
        );
    }

    #[test]
    fn every_refusal_and_guidance_has_both_languages() {
        let m = embedded_messages().unwrap();
        for r in Refusal::ALL {
            for key in refusal(r) {
                let ru = m.get(ConsentLanguage::Ru, key).unwrap();
                assert!(ru.chars().any(|c| ('а'..='я').contains(&c)), "{ru}");
                assert!(!m.get(ConsentLanguage::En, key).unwrap().is_empty());
            }
        }
        for g in Guidance::ALL {
            assert!(m.get(ConsentLanguage::En, guidance(Some(g))).is_some(), "{g:?}");
        }
    }
}
