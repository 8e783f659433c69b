//! The consent texts shipped with this build, by version. A new text is a new version: the
//! version and the text's sha256 are stored with every session, so a text never changes under
//! a version already shown to someone.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentLanguage {
    Ru,
    En,
}

const TEXTS: &[(&str, &str, &str)] = &[(
    "2026-11-v1",
    include_str!("../consent/2026-11-v1.ru.txt"),
    include_str!("../consent/2026-11-v1.en.txt"),
)];

/// The consent text of `version` in `language`, or `None` when this build has no such version.
pub fn consent_text(version: &str, language: ConsentLanguage) -> Option<&'static str> {
    TEXTS.iter().find(|(v, _, _)| *v == version).map(|(_, ru, en)| match language {
        ConsentLanguage::Ru => *ru,
        ConsentLanguage::En => *en,
    })
}

/// Versions this build can show.
pub(crate) fn known_versions() -> impl Iterator<Item = &'static str> {
    TEXTS.iter().map(|(v, _, _)| *v)
}
