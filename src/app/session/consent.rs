//! The consent text in force: its version, and each language's text with its hash (the hash
//! of the text the person read is stored with the session).

use kiosk_config::ConsentLanguage;
use sha2::Digest;

use crate::app::AppError;
use crate::flow::Language;

#[derive(Debug, Clone)]
pub struct ConsentText {
    pub text: String,
    pub sha256: [u8; 32],
}

impl ConsentText {
    fn new(text: &str) -> Self {
        Self { text: text.to_owned(), sha256: sha2::Sha256::digest(text.as_bytes()).into() }
    }
}

#[derive(Debug, Clone)]
pub struct Consent {
    pub version: String,
    pub ru: ConsentText,
    pub en: ConsentText,
}

impl Consent {
    /// The configured version of the consent text in both languages.
    pub fn from_config(config: &kiosk_config::Config) -> Result<Self, AppError> {
        let version = config.consent.version.clone();
        let text = |language| {
            kiosk_config::consent_text(&version, language)
                .map(ConsentText::new)
                .ok_or_else(|| AppError::Usage(format!("no consent text of version {version} ({language:?})")))
        };
        Ok(Self { ru: text(ConsentLanguage::Ru)?, en: text(ConsentLanguage::En)?, version })
    }

    /// The text shown to (and hashed for) a person reading in `language`.
    pub fn in_language(&self, language: Language) -> &ConsentText {
        match language {
            Language::Ru => &self.ru,
            Language::En => &self.en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_language_has_its_own_text_and_hash() {
        let config = kiosk_config::load_str(None).unwrap();
        let consent = Consent::from_config(&config).unwrap();
        assert_ne!(consent.ru.text, consent.en.text);
        assert_ne!(consent.ru.sha256, consent.en.sha256);
        let expected: [u8; 32] = sha2::Sha256::digest(consent.en.text.as_bytes()).into();
        assert_eq!(consent.in_language(Language::En).sha256, expected);
    }
}
