//! Every text the kiosk shows or speaks, in Russian and English: `messages/ru.toml` and
//! `messages/en.toml`, compiled in. A key is a section and a name (`[welcome]` `title = "…"` is
//! `welcome.title`). Both files must have exactly the same keys, no empty text, and the same
//! `{placeholders}` in each pair, so a missing or mistyped translation is an error when the
//! files are read, never a blank or a raw key in front of a person.
//!
//! A site may ship its own wording ([`Messages::load_dir`]); it must then provide exactly the
//! keys (and placeholders) of the built-in files, so this build can show every screen with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::lines::{line_at, line_of_key};
use crate::ConsentLanguage;

/// How errors in the built-in messages name their folder.
pub const MESSAGES_DIR_NAME: &str = "kiosk-config/messages";
/// The Russian file in a messages folder.
pub const RU_FILE: &str = "ru.toml";
/// The English file in a messages folder.
pub const EN_FILE: &str = "en.toml";

const RU_EMBEDDED: &str = include_str!("../messages/ru.toml");
const EN_EMBEDDED: &str = include_str!("../messages/en.toml");

/// What is wrong with a messages file, naming the file, the line where known, and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MessagesError {
    #[error("{file}: cannot read the messages file: {source}; put {RU_FILE} and {EN_FILE} in that folder")]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{file}{}: not valid TOML: {message}; fix the file (a section per screen, `name = \"text\"`)", line_suffix(*.line))]
    Syntax { file: PathBuf, line: Option<usize>, message: String },
    #[error("{file}{}: `{key}` must be a text in quotes, found {found}", line_suffix(*.line))]
    NotText { file: PathBuf, line: Option<usize>, key: String, found: String },
    #[error("{file}{}: `{key}` is empty; write the text (every message is needed in Russian and English)", line_suffix(*.line))]
    Empty { file: PathBuf, line: Option<usize>, key: String },
    #[error("{file}: `{key}` is missing but {other} has it; every message is needed in both languages")]
    Missing { file: PathBuf, key: String, other: String },
    #[error("{file}{}: `{key}` is not a message this build uses (a typo?); the keys are those of {reference}", line_suffix(*.line))]
    Unknown { file: PathBuf, line: Option<usize>, key: String, reference: String },
    /// `message` says which placeholders each file has.
    #[error("{file}{}: `{key}` {message}; use the same {{names}} in both", line_suffix(*.line))]
    Placeholders { file: PathBuf, line: Option<usize>, key: String, message: String },
    #[error("{file}{}: `{key}`: {message}", line_suffix(*.line))]
    BadPlaceholder { file: PathBuf, line: Option<usize>, key: String, message: String },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|n| format!(":{n}")).unwrap_or_default()
}

/// One validated pair of message files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    ru: BTreeMap<String, String>,
    en: BTreeMap<String, String>,
}

impl Messages {
    /// The messages compiled into this build.
    pub fn embedded() -> Result<Messages, MessagesError> {
        let dir = Path::new(MESSAGES_DIR_NAME);
        Self::parse((&dir.join(RU_FILE), RU_EMBEDDED), (&dir.join(EN_FILE), EN_EMBEDDED))
    }

    /// Reads `ru.toml` and `en.toml` from `dir`; they must have exactly the keys and
    /// placeholders of the built-in messages.
    pub fn load_dir(dir: &Path) -> Result<Messages, MessagesError> {
        let read = |name: &str| {
            let file = dir.join(name);
            std::fs::read_to_string(&file)
                .map(|text| (file.clone(), text))
                .map_err(|source| MessagesError::Read { file, source })
        };
        let (ru_file, ru_text) = read(RU_FILE)?;
        let (en_file, en_text) = read(EN_FILE)?;
        let loaded = Self::parse((&ru_file, &ru_text), (&en_file, &en_text))?;
        let reference = Self::embedded()?;
        let name = format!("the built-in {MESSAGES_DIR_NAME}/{RU_FILE}");
        same_keys(&loaded.ru, &reference.ru, (&ru_file, &ru_text), &name)?;
        Ok(loaded)
    }

    /// Parses and checks a pair of texts; `(file, text)` each, the file naming it in errors.
    pub fn parse(ru: (&Path, &str), en: (&Path, &str)) -> Result<Messages, MessagesError> {
        let ru_map = flatten_file(ru.0, ru.1)?;
        let en_map = flatten_file(en.0, en.1)?;
        if let Some(key) = en_map.keys().find(|k| !ru_map.contains_key(*k)) {
            let other = en.0.display().to_string();
            return Err(MessagesError::Missing { file: ru.0.to_path_buf(), key: key.clone(), other });
        }
        same_keys(&en_map, &ru_map, en, &ru.0.display().to_string())?;
        Ok(Messages { ru: ru_map, en: en_map })
    }

    /// The text of `key` in `language`.
    pub fn get(&self, language: ConsentLanguage, key: &str) -> Option<&str> {
        self.map(language).get(key).map(String::as_str)
    }

    /// The text of `key` with each `{name}` replaced by its value from `args`; placeholders
    /// without a value are left as they are.
    pub fn format(&self, language: ConsentLanguage, key: &str, args: &[(&str, &str)]) -> Option<String> {
        self.get(language, key).map(|text| fill(text, args))
    }

    /// Every key, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.ru.keys().map(String::as_str)
    }

    fn map(&self, language: ConsentLanguage) -> &BTreeMap<String, String> {
        match language {
            ConsentLanguage::Ru => &self.ru,
            ConsentLanguage::En => &self.en,
        }
    }
}

/// Replaces each `{name}` of `text` by its value in `args`.
pub fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The `{name}`s of a text; a lone brace or a bad name is an error message.
fn placeholders(text: &str) -> Result<BTreeSet<&str>, String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("has a `}` without its `{`; placeholders are written `{name}`".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("has a `{` without its `}`; placeholders are written `{name}`".into());
        };
        let name = &after[..close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(format!("placeholder `{{{name}}}` must be a name of small Latin letters and `_`"));
        }
        found.insert(name);
        rest = &after[close + 1..];
    }
    Ok(found)
}

fn flatten_file(file: &Path, text: &str) -> Result<BTreeMap<String, String>, MessagesError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| MessagesError::Syntax {
        file: file.to_path_buf(),
        line: e.span().map(|s| line_at(text, s.start)),
        message: e.message().to_owned(),
    })?;
    let mut out = BTreeMap::new();
    flatten(file, text, "", &table, &mut out)?;
    Ok(out)
}

fn flatten(
    file: &Path,
    text: &str,
    prefix: &str,
    table: &toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), MessagesError> {
    for (name, value) in table {
        let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match value {
            toml::Value::Table(inner) => flatten(file, text, &key, inner, out)?,
            toml::Value::String(s) => {
                let line = line_of_key(text, &key);
                if s.trim().is_empty() {
                    return Err(MessagesError::Empty { file: file.to_path_buf(), line, key });
                }
                placeholders(s).map_err(|message| MessagesError::BadPlaceholder {
                    file: file.to_path_buf(),
                    line,
                    key: key.clone(),
                    message,
                })?;
                out.insert(key, s.clone());
            }
            other => {
                return Err(MessagesError::NotText {
                    file: file.to_path_buf(),
                    line: line_of_key(text, &key),
                    key,
                    found: other.type_str().to_owned(),
                })
            }
        }
    }
    Ok(())
}

/// Checks that `mine` (from `file`) has exactly the keys of `theirs` (from `other`), each with
/// the same placeholders.
fn same_keys(
    mine: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
    (file, text): (&Path, &str),
    other: &str,
) -> Result<(), MessagesError> {
    if let Some(key) = theirs.keys().find(|k| !mine.contains_key(*k)) {
        return Err(MessagesError::Missing {
            file: file.to_path_buf(),
            key: key.clone(),
            other: other.to_owned(),
        });
    }
    if let Some(key) = mine.keys().find(|k| !theirs.contains_key(*k)) {
        return Err(MessagesError::Unknown {
            file: file.to_path_buf(),
            line: line_of_key(text, key),
            key: key.clone(),
            reference: other.to_owned(),
        });
    }
    for (key, value) in mine {
        let Some(their_value) = theirs.get(key) else { continue };
        // Both were checked when flattened; an error here cannot happen, and is not hidden.
        let (found, expected) = (placeholders(value), placeholders(their_value));
        if found != expected {
            let show = |p: Result<BTreeSet<&str>, String>| match p {
                Ok(set) if set.is_empty() => "none".to_owned(),
                Ok(set) => set.iter().map(|n| format!("{{{n}}}")).collect::<Vec<_>>().join(", "),
                Err(message) => message,
            };
            return Err(MessagesError::Placeholders {
                file: file.to_path_buf(),
                line: line_of_key(text, key),
                key: key.clone(),
                message: format!("has the placeholders {} but {other} has {}", show(found), show(expected)),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(ru: &str, en: &str) -> Result<Messages, MessagesError> {
        Messages::parse((Path::new("ru.toml"), ru), (Path::new("en.toml"), en))
    }

    #[test]
    fn embedded_messages_are_valid_and_complete() {
        let m = Messages::embedded().unwrap();
        assert!(m.keys().count() > 50);
        for key in m.keys() {
            let ru = m.get(ConsentLanguage::Ru, key).unwrap();
            let en = m.get(ConsentLanguage::En, key).unwrap();
            assert!(!ru.trim().is_empty() && !en.trim().is_empty(), "{key}");
        }
        assert_eq!(m.get(ConsentLanguage::Ru, "welcome.start"), Some("Начать"));
        assert_eq!(m.get(ConsentLanguage::En, "welcome.start"), Some("Start"));
    }

    #[test]
    fn russian_texts_are_in_russian() {
        let m = Messages::embedded().unwrap();
        let cyrillic =
            |s: &str| s.chars().any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
        // Not words: the English button's own name, and the keyed-in MRZ's key labels (the
        // letters a passport number uses are Latin, the digits are digits).
        let neutral = ["welcome.language_en", "keyed.letters", "keyed.digits"];
        for key in m.keys().filter(|k| !neutral.contains(k)) {
            assert!(cyrillic(m.get(ConsentLanguage::Ru, key).unwrap()), "{key} in ru.toml has no Russian");
        }
    }

    #[test]
    fn nested_sections_become_dotted_keys_and_format_fills_placeholders() {
        let m = parse(
            "[issued]\nscan = \"до {time}\"\n[refusal.timeout]\ntitle = \"Время вышло\"\n",
            "[issued]\nscan = \"until {time}\"\n[refusal.timeout]\ntitle = \"Time is up\"\n",
        )
        .unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["issued.scan", "refusal.timeout.title"]);
        assert_eq!(
            m.format(ConsentLanguage::En, "issued.scan", &[("time", "14:35")]).unwrap(),
            "until 14:35"
        );
        assert_eq!(m.get(ConsentLanguage::Ru, "refusal.timeout.title"), Some("Время вышло"));
        assert_eq!(m.get(ConsentLanguage::Ru, "nope"), None);
    }

    #[test]
    fn a_key_missing_in_one_language_names_file_and_key() {
        let err = parse("[a]\nx = \"х\"\ny = \"у\"\n", "[a]\nx = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("en.toml") && err.contains("`a.y`") && err.contains("ru.toml"), "{err}");
        let err = parse("[a]\nx = \"х\"\n", "[a]\nx = \"x\"\nz = \"z\"\n").unwrap_err().to_string();
        assert!(err.contains("ru.toml") && err.contains("`a.z`") && err.contains("missing"), "{err}");
    }

    #[test]
    fn empty_text_names_the_line() {
        let err = parse("[a]\n\nx = \"  \"\n", "[a]\nx = \"x\"\n").unwrap_err().to_string();
        assert!(err.starts_with("ru.toml:3:") && err.contains("`a.x` is empty"), "{err}");
    }

    #[test]
    fn placeholders_must_match_and_be_well_formed() {
        let err = parse("[a]\nx = \"до {time}\"\n", "[a]\nx = \"until {tme}\"\n").unwrap_err().to_string();
        assert!(err.contains("en.toml:2") && err.contains("{tme}") && err.contains("{time}"), "{err}");
        let err = parse("[a]\nx = \"до {time\"\n", "[a]\nx = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("ru.toml:2") && err.contains("without its `}`"), "{err}");
        let err = parse("[a]\nx = \"x\"\n", "[a]\nx = \"{Time}\"\n").unwrap_err().to_string();
        assert!(err.contains("en.toml:2") && err.contains("small Latin letters"), "{err}");
        assert!(placeholders("a } b").is_err());
        assert_eq!(
            placeholders("{page} of {pages}").unwrap().into_iter().collect::<Vec<_>>(),
            ["page", "pages"]
        );
    }

    #[test]
    fn non_text_values_and_bad_toml_are_errors() {
        let err = parse("[a]\nx = 3\n", "[a]\nx = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("ru.toml:2") && err.contains("`a.x` must be a text"), "{err}");
        let err = parse("[a]\nx = \"x\"\n", "[a\nx = \"x\"\n").unwrap_err().to_string();
        assert!(err.starts_with("en.toml:1") && err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn a_site_folder_must_match_the_built_in_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RU_FILE), RU_EMBEDDED).unwrap();
        std::fs::write(dir.path().join(EN_FILE), EN_EMBEDDED).unwrap();
        assert_eq!(Messages::load_dir(dir.path()).unwrap(), Messages::embedded().unwrap());

        let changed = RU_EMBEDDED.replace("Начать", "Поехали");
        std::fs::write(dir.path().join(RU_FILE), &changed).unwrap();
        let m = Messages::load_dir(dir.path()).unwrap();
        assert_eq!(m.get(ConsentLanguage::Ru, "welcome.start"), Some("Поехали"));

        let extra = format!("{RU_EMBEDDED}\n[extra]\nx = \"х\"\n");
        let extra_en = format!("{EN_EMBEDDED}\n[extra]\nx = \"x\"\n");
        std::fs::write(dir.path().join(RU_FILE), extra).unwrap();
        std::fs::write(dir.path().join(EN_FILE), extra_en).unwrap();
        let err = Messages::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("`extra.x`") && err.contains("not a message this build uses"), "{err}");

        std::fs::remove_file(dir.path().join(EN_FILE)).unwrap();
        let err = Messages::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("en.toml") && err.contains("cannot read"), "{err}");
    }
}
