//! Reading the defaults and a site file, merging them key by key, strictly.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use toml::{Table, Value};

use crate::lines::{line_at, line_of_key};
use crate::{validate::validate, Config, ConfigError};

/// The defaults, compiled in so that the binary never runs without them.
pub const DEFAULT_TOML: &str = include_str!("../default.toml");
/// How errors in the defaults name their file.
pub const DEFAULT_FILE_NAME: &str = "kiosk-config/default.toml";

/// Loads the defaults, overridden by the site file at `path` when given.
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        None => load_str(None),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ConfigError::Read { file: path.to_path_buf(), source })?;
            load_str(Some((path, &text)))
        }
    }
}

/// Like [`load`], with the site file's text already in memory.
pub fn load_str(site: Option<(&Path, &str)>) -> Result<Config, ConfigError> {
    let default_file = PathBuf::from(DEFAULT_FILE_NAME);
    let mut merged = parse(&default_file, DEFAULT_TOML)?;
    let mut overridden = BTreeSet::new();
    let source = Sources { default_file: &default_file, site };
    if let Some((path, text)) = site {
        let user = parse(path, text)?;
        merge(&mut merged, user, "", &mut overridden, path, text)?;
    }
    let config = deserialize(Value::Table(merged), &overridden, &source)?;
    validate(&config).map_err(|issue| source.locate(issue, &overridden))?;
    Ok(config)
}

/// Which file each value came from, to put the right file and line in an error.
struct Sources<'a> {
    default_file: &'a Path,
    site: Option<(&'a Path, &'a str)>,
}

impl Sources<'_> {
    fn file_and_line(&self, key: &str, overridden: &BTreeSet<String>) -> (PathBuf, Option<usize>) {
        match self.site {
            Some((path, text)) if overridden.contains(key) => (path.to_path_buf(), line_of_key(text, key)),
            _ => (self.default_file.to_path_buf(), line_of_key(DEFAULT_TOML, key)),
        }
    }

    fn locate(&self, issue: crate::validate::Issue, overridden: &BTreeSet<String>) -> ConfigError {
        let (file, line) = self.file_and_line(&issue.key, overridden);
        match issue.kind {
            crate::validate::IssueKind::OutOfRange { value, expected } => {
                ConfigError::OutOfRange { file, line, key: issue.key, value, expected }
            }
            crate::validate::IssueKind::Invalid(message) => {
                ConfigError::Invalid { file, line, key: issue.key, message }
            }
        }
    }
}

fn parse(file: &Path, text: &str) -> Result<Table, ConfigError> {
    text.parse::<Table>().map_err(|e| ConfigError::Syntax {
        file: file.to_path_buf(),
        line: e.span().map(|span| line_at(text, span.start)),
        message: e.message().to_string(),
    })
}

/// Overlays `user` on `base`: only keys the defaults know, only values of the same type.
fn merge(
    base: &mut Table,
    user: Table,
    prefix: &str,
    overridden: &mut BTreeSet<String>,
    file: &Path,
    text: &str,
) -> Result<(), ConfigError> {
    for (key, value) in user {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(slot) = base.get_mut(&key) else {
            let mut known: Vec<&str> = base.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(ConfigError::UnknownKey {
                file: file.to_path_buf(),
                line: line_of_key(text, &path),
                key: path,
                expected: known.join(", "),
            });
        };
        match (slot, value) {
            (Value::Table(base_table), Value::Table(user_table)) => {
                merge(base_table, user_table, &path, overridden, file, text)?;
            }
            // A whole number where a fraction is expected is what the person meant.
            (slot @ Value::Float(_), Value::Integer(i)) => {
                *slot = Value::Float(i as f64);
                overridden.insert(path);
            }
            (slot, value) if slot.same_type(&value) => {
                *slot = value;
                overridden.insert(path);
            }
            (slot, value) => {
                return Err(ConfigError::WrongType {
                    file: file.to_path_buf(),
                    line: line_of_key(text, &path),
                    expected: describe_type(slot),
                    found: describe_type(&value),
                    key: path,
                });
            }
        }
    }
    Ok(())
}

fn describe_type(value: &Value) -> String {
    match value {
        Value::Table(_) => "a table ([section])".into(),
        Value::Array(_) => "an array".into(),
        Value::String(_) => "a string".into(),
        Value::Integer(_) => "an integer".into(),
        Value::Float(_) => "a number".into(),
        Value::Boolean(_) => "true or false".into(),
        Value::Datetime(_) => "a date-time".into(),
    }
}

/// Typed deserialisation; only enum values can still fail here (types were checked in merge).
fn deserialize(
    merged: Value,
    overridden: &BTreeSet<String>,
    sources: &Sources<'_>,
) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize(merged).map_err(|e: serde_path_to_error::Error<toml::de::Error>| {
        let key = e.path().to_string();
        let (file, line) = sources.file_and_line(&key, overridden);
        ConfigError::Invalid { file, line, key, message: e.inner().message().to_string() }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> Result<Config, ConfigError> {
        load_str(Some((Path::new("site.toml"), text)))
    }

    #[test]
    fn defaults_load_and_validate() {
        let config = load(None).unwrap();
        assert_eq!(config.account.per_transaction_limit_rub, 50_000);
        assert_eq!(config.display.width, 800);
    }

    #[test]
    fn site_file_overrides_only_what_it_names() {
        let config = site("[display]\nwidth = 1280\nheight = 800\n").unwrap();
        assert_eq!((config.display.width, config.display.height), (1280, 800));
        assert_eq!(config.camera.width, 640);
    }

    #[test]
    fn unknown_key_names_file_line_key_and_choices() {
        let err = site("[display]\nwidht = 1280\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::UnknownKey { line: Some(2), .. }), "{text}");
        assert!(text.contains("site.toml:2") && text.contains("display.widht"), "{text}");
        assert!(text.contains("width"), "the known keys are listed: {text}");
    }

    #[test]
    fn unknown_section_is_an_error() {
        let err = site("[dispaly]\nwidth = 1280\n").unwrap_err();
        assert_eq!(err.key(), Some("dispaly"));
    }

    #[test]
    fn wrong_type_names_expected_and_found() {
        let err = site("[camera]\nwidth = \"wide\"\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::WrongType { .. }), "{text}");
        assert!(
            text.contains("camera.width") && text.contains("an integer") && text.contains("a string"),
            "{text}"
        );
    }

    #[test]
    fn integer_is_taken_as_a_fraction_then_range_checked() {
        let err = site("[face]\nmatch_threshold = 1\n").unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { ref value, .. } if value == "1"), "{err}");
    }

    #[test]
    fn out_of_range_names_the_site_file_and_line() {
        let err = site("# comment\n[account]\nper_transaction_limit_rub = 60000\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::OutOfRange { line: Some(3), .. }), "{text}");
        assert!(text.contains("site.toml") && text.contains("account.per_transaction_limit_rub"), "{text}");
        assert!(text.contains("50000"), "the hard cap is named: {text}");
    }

    #[test]
    fn bad_enum_value_names_the_key() {
        let err = site("[display]\ndriver = \"hdmi\"\n").unwrap_err();
        let text = err.to_string();
        assert_eq!(err.key(), Some("display.driver"), "{text}");
        assert!(text.contains("site.toml:2") && text.contains("memory"), "{text}");
    }

    #[test]
    fn unknown_operation_is_named() {
        let err = site("[account]\nallowed_operations = [\"payment\", \"crypto\"]\n").unwrap_err();
        let text = err.to_string();
        assert_eq!(err.key(), Some("account.allowed_operations"), "{text}");
        assert!(text.contains("crypto") && text.contains("site.toml:2"), "{text}");
    }

    #[test]
    fn syntax_error_names_the_line() {
        let err = site("[display]\nwidth = = 3\n").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { line: Some(2), .. }), "{err}");
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let err = load(Some(Path::new("/nonexistent/kiosk.toml"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/kiosk.toml"));
    }
}
