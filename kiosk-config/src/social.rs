//! The rules of the state social payments offer (`social-payments.toml`): the categories a
//! person may select about themselves, and the kinds of support they may be entitled to, each
//! with its payer and the conditions (age, sex-specific age, categories) under which the kiosk
//! lists it. Parsed strictly and validated once; [`SocialRules`] is always consistent.
//!
//! Like the consent texts, the rules are versioned and compiled in: the version is recorded
//! with each person's choice, so a text never changes under a version already shown to someone.
//! The kiosk lists what a person *may* be entitled to; the payer decides.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::lines::line_at;
use crate::{ConsentLanguage, SocialPaymentsSection};

/// How errors in the built-in rules name their file.
pub const SOCIAL_RULES_FILE_NAME: &str = "kiosk-config/social-payments.toml";

/// The rules shipped with this build, by version.
const BUILTIN: &[(&str, &str)] = &[("2026-11-v1", include_str!("../social-payments.toml"))];

/// Most categories a rules file may define: a [`CategorySet`] is a 64-bit mask.
pub const MAX_CATEGORIES: usize = 64;
/// Oldest age a bound may name.
pub const MAX_AGE_BOUND: u32 = 120;
const MAX_ID_LEN: usize = 40;
const MAX_LABEL_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 80;
const MAX_NOTE_CHARS: usize = 240;
const MAX_NOTICE_CHARS: usize = 400;

/// What is wrong with a rules file, naming the file, the line where known, and the entry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SocialRulesError {
    #[error("{file}{}: not valid TOML: {message}; fix the file (see its header for the format)", line_suffix(*.line))]
    Syntax { file: PathBuf, line: Option<usize>, message: String },
    #[error("{file}{}: `{key}`: {message}; fix the file (see its header for the format)", line_suffix(*.line))]
    Field { file: PathBuf, line: Option<usize>, key: String, message: String },
    #[error("{file}{}: {entry}: {message}", line_suffix(*.line))]
    Invalid { file: PathBuf, line: Option<usize>, entry: String, message: String },
    #[error("no social payment rules of version `{version}` in this build; it has: {known}. Set `social_payments.rules_version` to one of them")]
    UnknownVersion { version: String, known: String },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|n| format!(":{n}")).unwrap_or_default()
}

/// A text in both languages of the kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub ru: String,
    pub en: String,
}

impl Label {
    pub fn text(&self, language: ConsentLanguage) -> &str {
        match language {
            ConsentLanguage::Ru => &self.ru,
            ConsentLanguage::En => &self.en,
        }
    }
}

/// Who pays a kind of support (and decides on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payer {
    pub id: String,
    pub name: Label,
}

/// Something a person may select about themselves (`children`, `disability`, ...). Its index
/// in [`SocialRules::categories`] is its bit in a [`CategorySet`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: String,
    pub label: Label,
}

/// One way to be possibly entitled to a kind of support. It holds when every bound it gives
/// holds and, when `categories` is not empty, at least one of them is selected. Ages are whole
/// years. `min_age_female` and `min_age_male` are both given or both absent; when the sex is
/// not known the higher applies. A condition with any age bound never holds for an unknown age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub min_age: Option<u32>,
    pub max_age: Option<u32>,
    pub min_age_female: Option<u32>,
    pub min_age_male: Option<u32>,
    /// Any of these (empty: no category needed).
    pub categories: CategorySet,
}

impl Condition {
    /// Whether the condition bounds the age at all.
    pub fn has_age_bound(&self) -> bool {
        self.min_age.is_some()
            || self.max_age.is_some()
            || self.min_age_female.is_some()
            || self.min_age_male.is_some()
    }
}

/// A kind of support the kiosk may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub id: String,
    /// A [`Payer`] id of the same rules.
    pub payer: String,
    pub name: Label,
    /// One line: who it is for, in short.
    pub note: Label,
    /// Offered when any of these holds; never empty.
    pub when: Vec<Condition>,
}

/// A set of selected categories, as bits in the order of the rules file: `Copy`, so the flow
/// state can hold it. What it holds is sensitive (it can reveal a disability), so `Debug`
/// shows nothing of it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CategorySet(u64);

impl CategorySet {
    pub const EMPTY: CategorySet = CategorySet(0);

    pub const fn from_bits(bits: u64) -> CategorySet {
        CategorySet(bits)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    fn bit(index: usize) -> u64 {
        if index < MAX_CATEGORIES {
            1u64 << index
        } else {
            0
        }
    }

    /// Whether category `index` is in the set (an index past the capacity never is).
    pub fn contains(self, index: usize) -> bool {
        self.0 & CategorySet::bit(index) != 0
    }

    /// The set with category `index` added (unchanged for an index past the capacity).
    #[must_use]
    pub fn with(self, index: usize) -> CategorySet {
        CategorySet(self.0 | CategorySet::bit(index))
    }

    #[must_use]
    pub fn without(self, index: usize) -> CategorySet {
        CategorySet(self.0 & !CategorySet::bit(index))
    }

    /// The set with category `index` selected if it was not, and unselected if it was (a touch).
    #[must_use]
    pub fn toggled(self, index: usize) -> CategorySet {
        CategorySet(self.0 ^ CategorySet::bit(index))
    }

    #[must_use]
    pub fn union(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 | other.0)
    }

    #[must_use]
    pub fn intersection(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & other.0)
    }

    pub fn intersects(self, other: CategorySet) -> bool {
        self.0 & other.0 != 0
    }

    pub fn is_subset_of(self, other: CategorySet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The indexes in the set, ascending.
    pub fn iter(self) -> impl Iterator<Item = usize> {
        (0..MAX_CATEGORIES).filter(move |&i| self.contains(i))
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CategorySet(<redacted>)")
    }
}

/// Validated rules: ids unique, every reference resolves, every text present in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocialRules {
    version: String,
    notice: Label,
    payers: Vec<Payer>,
    categories: Vec<Category>,
    kinds: Vec<Kind>,
}

impl SocialRules {
    /// The rules of `version` built into this binary.
    pub fn builtin(version: &str) -> Result<SocialRules, SocialRulesError> {
        let Some((_, text)) = BUILTIN.iter().find(|(v, _)| *v == version) else {
            return Err(SocialRulesError::UnknownVersion {
                version: version.to_owned(),
                known: builtin_versions().collect::<Vec<_>>().join(", "),
            });
        };
        let rules = SocialRules::parse(Path::new(SOCIAL_RULES_FILE_NAME), text)?;
        if rules.version != version {
            return Err(SocialRulesError::Invalid {
                file: SOCIAL_RULES_FILE_NAME.into(),
                line: line_of_top_key(text, "version"),
                entry: "version".into(),
                message: format!("is `{}` but the build lists this file as `{version}`", rules.version),
            });
        }
        Ok(rules)
    }

    /// The rules the configuration asks for; `None` when the offer is switched off.
    pub fn from_config(section: &SocialPaymentsSection) -> Result<Option<SocialRules>, SocialRulesError> {
        if !section.enabled {
            return Ok(None);
        }
        SocialRules::builtin(&section.rules_version).map(Some)
    }

    /// Parses and validates a rules file; `file` names it in errors.
    pub fn parse(file: &Path, text: &str) -> Result<SocialRules, SocialRulesError> {
        let deserializer = toml::Deserializer::new(text);
        let raw: RawRules = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner.span().map(|s| line_at(text, s.start));
            let message = inner.message().to_owned();
            if key.is_empty() || key == "." || key == "?" {
                SocialRulesError::Syntax { file: file.to_path_buf(), line, message }
            } else {
                SocialRulesError::Field { file: file.to_path_buf(), line, key, message }
            }
        })?;
        Validator { file, text }.rules(raw)
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Shown with the list: the bank forwards, the payer decides.
    pub fn notice(&self) -> &Label {
        &self.notice
    }

    pub fn payers(&self) -> &[Payer] {
        &self.payers
    }

    /// In the file's order; index = bit in a [`CategorySet`].
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// In the file's order.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    pub fn payer(&self, id: &str) -> Option<&Payer> {
        self.payers.iter().find(|p| p.id == id)
    }

    pub fn kind(&self, id: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.id == id)
    }

    pub fn category_index(&self, id: &str) -> Option<usize> {
        self.categories.iter().position(|c| c.id == id)
    }

    /// Every category of these rules.
    pub fn all_categories(&self) -> CategorySet {
        (0..self.categories.len()).fold(CategorySet::EMPTY, CategorySet::with)
    }

    /// The ids of the categories in `set`, in the file's order (bits past the rules' categories
    /// are ignored).
    pub fn category_ids(&self, set: CategorySet) -> Vec<&str> {
        self.categories
            .iter()
            .enumerate()
            .filter(|(i, _)| set.contains(*i))
            .map(|(_, c)| c.id.as_str())
            .collect()
    }
}

/// Versions of the rules this build has.
pub fn builtin_versions() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(v, _)| *v)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: String,
    notice: Label,
    #[serde(default)]
    payer: Vec<RawPayer>,
    #[serde(default)]
    category: Vec<RawCategory>,
    #[serde(default)]
    kind: Vec<RawKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayer {
    id: String,
    name: Label,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    id: String,
    label: Label,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    id: String,
    payer: String,
    name: Label,
    note: Label,
    when: Vec<RawCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    min_age: Option<u32>,
    max_age: Option<u32>,
    min_age_female: Option<u32>,
    min_age_male: Option<u32>,
    #[serde(default)]
    categories: Vec<String>,
}

struct Validator<'a> {
    file: &'a Path,
    text: &'a str,
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    id.len() <= MAX_ID_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn valid_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 32
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl Validator<'_> {
    fn error(
        &self,
        line: Option<usize>,
        entry: impl Into<String>,
        message: impl Into<String>,
    ) -> SocialRulesError {
        SocialRulesError::Invalid {
            file: self.file.to_path_buf(),
            line,
            entry: entry.into(),
            message: message.into(),
        }
    }

    fn label(
        &self,
        line: Option<usize>,
        entry: &str,
        field: &str,
        label: &Label,
        max: usize,
    ) -> Result<(), SocialRulesError> {
        for (lang, text) in [("ru", &label.ru), ("en", &label.en)] {
            let chars = text.chars().count();
            if text.trim().is_empty() {
                return Err(self.error(
                    line,
                    entry,
                    format!("`{field}.{lang}` is empty; every text is needed in Russian and English"),
                ));
            }
            if text.contains(['\n', '\r']) {
                return Err(self.error(
                    line,
                    entry,
                    format!("`{field}.{lang}` spans several lines; keep it to one line"),
                ));
            }
            if chars > max {
                return Err(self.error(
                    line,
                    entry,
                    format!("`{field}.{lang}` has {chars} characters; at most {max} fit on the screen, shorten it"),
                ));
            }
        }
        Ok(())
    }

    /// Checks ids of one table array: format and uniqueness.
    fn ids<'r>(&self, header: &str, ids: impl Iterator<Item = &'r str>) -> Result<(), SocialRulesError> {
        let mut seen: Vec<&str> = Vec::new();
        for (index, id) in ids.enumerate() {
            let line = line_of_table(self.text, header, index);
            let what = header.trim_matches(['[', ']']);
            if !valid_id(id) {
                return Err(self.error(
                    line,
                    format!("{what} #{} `{id}`", index + 1),
                    format!("id must be 1 to {MAX_ID_LEN} of a-z, 0-9 and _, starting with a letter (ids are stored with each choice; keep them stable)"),
                ));
            }
            if seen.contains(&id) {
                return Err(self.error(
                    line,
                    format!("{what} `{id}`"),
                    "this id is already used by an earlier entry; ids must be unique",
                ));
            }
            seen.push(id);
        }
        Ok(())
    }

    fn rules(&self, raw: RawRules) -> Result<SocialRules, SocialRulesError> {
        if !valid_version(&raw.version) {
            return Err(self.error(
                line_of_top_key(self.text, "version"),
                "version",
                "expected 1 to 32 of A-Z, a-z, 0-9, `.`, `-`, `_` such as `2026-11-v1`",
            ));
        }
        self.label(line_of_top_key(self.text, "notice"), "notice", "notice", &raw.notice, MAX_NOTICE_CHARS)?;

        if raw.payer.is_empty() {
            return Err(self.error(
                None,
                "payer",
                "no [[payer]] defined; every kind names the payer that decides on it",
            ));
        }
        self.ids("[[payer]]", raw.payer.iter().map(|p| p.id.as_str()))?;
        for (index, p) in raw.payer.iter().enumerate() {
            self.label(
                line_of_table(self.text, "[[payer]]", index),
                &format!("payer `{}`", p.id),
                "name",
                &p.name,
                MAX_NAME_CHARS,
            )?;
        }

        if raw.category.len() > MAX_CATEGORIES {
            return Err(self.error(
                line_of_table(self.text, "[[category]]", MAX_CATEGORIES),
                "category",
                format!("{} categories defined; at most {MAX_CATEGORIES}", raw.category.len()),
            ));
        }
        self.ids("[[category]]", raw.category.iter().map(|c| c.id.as_str()))?;
        for (index, c) in raw.category.iter().enumerate() {
            self.label(
                line_of_table(self.text, "[[category]]", index),
                &format!("category `{}`", c.id),
                "label",
                &c.label,
                MAX_LABEL_CHARS,
            )?;
        }

        if raw.kind.is_empty() {
            return Err(self.error(None, "kind", "no [[kind]] defined; the offer would list nothing"));
        }
        self.ids("[[kind]]", raw.kind.iter().map(|k| k.id.as_str()))?;
        let categories: Vec<Category> =
            raw.category.into_iter().map(|c| Category { id: c.id, label: c.label }).collect();
        let payers: Vec<Payer> = raw.payer.into_iter().map(|p| Payer { id: p.id, name: p.name }).collect();
        let mut kinds = Vec::with_capacity(raw.kind.len());
        for (index, k) in raw.kind.into_iter().enumerate() {
            let line = line_of_table(self.text, "[[kind]]", index);
            let entry = format!("kind `{}`", k.id);
            self.label(line, &entry, "name", &k.name, MAX_NAME_CHARS)?;
            self.label(line, &entry, "note", &k.note, MAX_NOTE_CHARS)?;
            if !payers.iter().any(|p| p.id == k.payer) {
                let known: Vec<&str> = payers.iter().map(|p| p.id.as_str()).collect();
                return Err(self.error(
                    line,
                    entry,
                    format!("payer `{}` is not defined; defined payers: {}", k.payer, known.join(", ")),
                ));
            }
            if k.when.is_empty() {
                return Err(self.error(
                    line,
                    entry,
                    "`when` is empty; give at least one condition under which the kind is offered",
                ));
            }
            let mut when = Vec::with_capacity(k.when.len());
            for (n, c) in k.when.into_iter().enumerate() {
                let entry = format!("kind `{}`, condition {} of `when`", k.id, n + 1);
                when.push(self.condition(line, &entry, c, &categories)?);
            }
            kinds.push(Kind { id: k.id, payer: k.payer, name: k.name, note: k.note, when });
        }
        Ok(SocialRules { version: raw.version, notice: raw.notice, payers, categories, kinds })
    }

    fn condition(
        &self,
        line: Option<usize>,
        entry: &str,
        c: RawCondition,
        categories: &[Category],
    ) -> Result<Condition, SocialRulesError> {
        let mut set = CategorySet::EMPTY;
        for id in &c.categories {
            let Some(index) = categories.iter().position(|cat| &cat.id == id) else {
                let known: Vec<&str> = categories.iter().map(|cat| cat.id.as_str()).collect();
                return Err(self.error(
                    line,
                    entry,
                    format!("category `{id}` is not defined; defined categories: {}", known.join(", ")),
                ));
            };
            if set.contains(index) {
                return Err(self.error(line, entry, format!("category `{id}` is listed twice")));
            }
            set = set.with(index);
        }
        let condition = Condition {
            min_age: c.min_age,
            max_age: c.max_age,
            min_age_female: c.min_age_female,
            min_age_male: c.min_age_male,
            categories: set,
        };
        if !condition.has_age_bound() && set.is_empty() {
            return Err(self.error(
                line,
                entry,
                "gives neither an age bound nor categories, so it would offer the kind to everyone; give min_age/max_age, min_age_female + min_age_male, or categories",
            ));
        }
        if condition.min_age_female.is_some() != condition.min_age_male.is_some() {
            return Err(self.error(
                line,
                entry,
                "give `min_age_female` and `min_age_male` together (or use `min_age` for both)",
            ));
        }
        for (name, value) in [
            ("min_age", condition.min_age),
            ("max_age", condition.max_age),
            ("min_age_female", condition.min_age_female),
            ("min_age_male", condition.min_age_male),
        ] {
            if let Some(v) = value {
                if v > MAX_AGE_BOUND {
                    return Err(self.error(
                        line,
                        entry,
                        format!("`{name}` = {v} is out of range: expected 0 to {MAX_AGE_BOUND} years"),
                    ));
                }
            }
        }
        if let Some(max) = condition.max_age {
            for (name, value) in [
                ("min_age", condition.min_age),
                ("min_age_female", condition.min_age_female),
                ("min_age_male", condition.min_age_male),
            ] {
                if let Some(min) = value.filter(|&min| min > max) {
                    return Err(self.error(
                        line,
                        entry,
                        format!(
                            "`{name}` = {min} is above `max_age` = {max}: the condition could never hold"
                        ),
                    ));
                }
            }
        }
        Ok(condition)
    }
}

/// The line of the `index`-th `header` (such as `[[kind]]`), counting from 0.
fn line_of_table(text: &str, header: &str, index: usize) -> Option<usize> {
    text.lines().enumerate().filter(|(_, l)| l.trim() == header).nth(index).map(|(n, _)| n + 1)
}

/// The line of a top-level `key = ...` (before the first table).
fn line_of_top_key(text: &str, key: &str) -> Option<usize> {
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            return None;
        }
        if line.split_once('=').is_some_and(|(k, _)| k.trim() == key) {
            return Some(n + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
version = "t-1"
notice = { ru = "СФР решает", en = "SFR decides" }

[[payer]]
id = "sfr"
name = { ru = "СФР", en = "SFR" }

[[category]]
id = "children"
label = { ru = "Дети", en = "Children" }

[[category]]
id = "disability"
label = { ru = "Инвалидность", en = "Disability" }

[[kind]]
id = "pension"
payer = "sfr"
name = { ru = "Пенсия", en = "Pension" }
note = { ru = "Заметка", en = "Note" }
when = [{ min_age_female = 60, min_age_male = 65 }, { categories = ["disability"] }]
"#;

    fn parse(text: &str) -> Result<SocialRules, SocialRulesError> {
        SocialRules::parse(Path::new("rules.toml"), text)
    }

    /// The error for `MINIMAL` with `from` replaced by `to`: its text must hold every `expect`.
    fn check_error(from: &str, to: &str, expect: &[&str]) {
        assert!(MINIMAL.contains(from), "test bug: {from:?} not in MINIMAL");
        let err = parse(&MINIMAL.replacen(from, to, 1)).unwrap_err();
        let text = err.to_string();
        for e in expect {
            assert!(text.contains(e), "expected {e:?} in: {text}");
        }
        assert!(text.contains("rules.toml"), "the file is named: {text}");
    }

    #[test]
    fn builtin_rules_load_and_are_what_the_config_names() {
        for version in builtin_versions() {
            let rules = SocialRules::builtin(version).unwrap();
            assert_eq!(rules.version(), version);
        }
        let config = crate::load(None).unwrap();
        let rules = SocialRules::from_config(&config.social_payments).unwrap().expect("enabled by default");
        let ids: Vec<&str> = rules.categories().iter().map(|c| c.id.as_str()).collect();
        for id in ["children", "disability", "caring_for_disabled", "large_family", "pensioner", "survivor"] {
            assert!(ids.contains(&id), "category {id} missing: {ids:?}");
        }
        for id in [
            "old_age_pension",
            "unified_child_benefit",
            "disability_pension",
            "survivor_pension",
            "care_allowance",
        ] {
            let kind = rules.kind(id).unwrap_or_else(|| panic!("kind {id} missing"));
            assert_eq!(kind.payer, "sfr");
        }
        assert!(rules.notice().ru.contains("СФР") && rules.notice().en.contains("SFR"));
        let old_age = rules.kind("old_age_pension").unwrap();
        assert_eq!((old_age.when[0].min_age_female, old_age.when[0].min_age_male), (Some(59), Some(64)));
        let off = crate::SocialPaymentsSection { enabled: false, ..config.social_payments.clone() };
        assert_eq!(SocialRules::from_config(&off).unwrap(), None);
    }

    #[test]
    fn unknown_version_lists_the_known_ones() {
        let err = SocialRules::builtin("1999-v0").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SocialRulesError::UnknownVersion { .. }), "{text}");
        assert!(text.contains("2026-11-v1") && text.contains("social_payments.rules_version"), "{text}");
    }

    #[test]
    fn minimal_rules_parse_into_indexes() {
        let rules = parse(MINIMAL).unwrap();
        assert_eq!(rules.category_index("disability"), Some(1));
        assert_eq!(rules.kinds()[0].when[1].categories, CategorySet::EMPTY.with(1));
        assert_eq!(rules.all_categories().bits(), 0b11);
        assert_eq!(rules.category_ids(CategorySet::from_bits(0b1110)), vec!["disability"]);
        assert_eq!(rules.payer("sfr").unwrap().name.text(ConsentLanguage::En), "SFR");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_path_and_line() {
        check_error(
            "min_age_male = 65",
            "min_age_male = 65, min_agee = 3",
            &["kind[0].when[0]", "min_agee", "rules.toml:22"],
        );
        check_error("id = \"children\"", "id = \"children\"\ncolour = \"red\"", &["category[0]", "colour"]);
        check_error("version = \"t-1\"", "version = \"t-1\"\nfoo = 1", &["foo"]);
    }

    #[test]
    fn wrong_types_and_syntax_are_named() {
        check_error("min_age_female = 60", "min_age_female = \"sixty\"", &["kind[0].when[0].min_age_female"]);
        check_error("min_age_female = 60", "min_age_female = -1", &["min_age_female"]);
        check_error("[[kind]]", "[[kind]", &["not valid TOML"]);
        check_error("note = { ru = \"Заметка\", en = \"Note\" }\n", "", &["note"]);
    }

    #[test]
    fn ids_must_be_unique_and_well_formed() {
        check_error(
            "id = \"disability\"",
            "id = \"children\"",
            &["category `children`", "already used", "rules.toml:13"],
        );
        check_error("id = \"pension\"", "id = \"Pension!\"", &["kind #1", "a-z"]);
        check_error("id = \"sfr\"", "id = \"\"", &["payer #1"]);
    }

    #[test]
    fn references_must_exist() {
        check_error(
            "categories = [\"disability\"]",
            "categories = [\"blind\"]",
            &["kind `pension`, condition 2", "`blind` is not defined", "children, disability"],
        );
        check_error("payer = \"sfr\"", "payer = \"pfr\"", &["kind `pension`", "payer `pfr`", "sfr"]);
        check_error(
            "categories = [\"disability\"]",
            "categories = [\"disability\", \"disability\"]",
            &["twice"],
        );
    }

    #[test]
    fn texts_are_needed_in_both_languages_and_short() {
        check_error("en = \"Children\"", "en = \" \"", &["category `children`", "`label.en` is empty"]);
        check_error("ru = \"Пенсия\"", "ru = \"\"", &["kind `pension`", "`name.ru` is empty"]);
        let long = format!("en = \"{}\"", "x".repeat(300));
        check_error("en = \"Note\"", &long, &["`note.en` has 300 characters", "shorten"]);
        check_error("en = \"SFR decides\"", "en = \"\"", &["notice", "`notice.en` is empty"]);
        check_error("en = \"Note\"", "en = \"two\\nlines\"", &["one line"]);
    }

    #[test]
    fn conditions_must_make_sense() {
        check_error("{ categories = [\"disability\"] }", "{ }", &["condition 2", "everyone"]);
        check_error("min_age_female = 60, min_age_male = 65", "min_age_female = 60", &["together"]);
        check_error(
            "min_age_female = 60, min_age_male = 65",
            "min_age = 70, max_age = 60",
            &["above `max_age`"],
        );
        check_error("min_age_female = 60, min_age_male = 65", "min_age = 200", &["out of range"]);
        check_error(
            "when = [{ min_age_female = 60, min_age_male = 65 }, { categories = [\"disability\"] }]",
            "when = []",
            &["`when` is empty"],
        );
        check_error(
            "[[payer]]\nid = \"sfr\"\nname = { ru = \"СФР\", en = \"SFR\" }\n",
            "",
            &["no [[payer]]"],
        );
    }

    #[test]
    fn too_many_categories_are_refused() {
        let mut text = MINIMAL.to_owned();
        for i in 0..MAX_CATEGORIES {
            text.push_str(&format!("\n[[category]]\nid = \"c{i}\"\nlabel = {{ ru = \"к\", en = \"c\" }}\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("at most 64"), "{err}");
    }

    #[test]
    fn config_names_an_unknown_rules_version() {
        let err = crate::load_str(Some((
            Path::new("site.toml"),
            "[social_payments]\nrules_version = \"2025-v9\"\n",
        )))
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.key(), Some("social_payments.rules_version"), "{text}");
        assert!(text.contains("site.toml:2") && text.contains("2026-11-v1"), "{text}");
        let off = "[social_payments]\nenabled = false\nrules_version = \"2025-v9\"\n";
        assert!(!crate::load_str(Some((Path::new("site.toml"), off))).unwrap().social_payments.enabled);
    }

    /// A damaged rules file (bytes cut out, or replaced) is an error naming the file, or still
    /// valid rules; never a panic. Deterministic pseudo-random damage, 3000 variants.
    #[test]
    fn damaged_rules_files_give_errors_not_panics() {
        let (_, text) = BUILTIN[0];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound.max(1) as u64) as usize
        };
        let fillers = ["", "=", "]", "[[kind]]\n", "\"", "{", "x", "й", "\n", "99", "min_age = 3, "];
        let (mut valid, mut errors) = (0, 0);
        for _ in 0..3000 {
            let mut damaged = text.to_owned();
            for _ in 0..1 + next(3) {
                let at = next(damaged.len());
                let start = (0..=at).rev().find(|&i| damaged.is_char_boundary(i)).unwrap_or(0);
                let end = (start..=(start + next(40)).min(damaged.len()))
                    .rev()
                    .find(|&i| damaged.is_char_boundary(i))
                    .unwrap_or(start);
                damaged.replace_range(start..end, fillers[next(fillers.len())]);
            }
            match parse(&damaged) {
                Ok(rules) => {
                    assert!(!rules.kinds().is_empty());
                    valid += 1;
                }
                Err(e) => {
                    assert!(e.to_string().starts_with("rules.toml"), "{e}");
                    errors += 1;
                }
            }
        }
        assert!(errors > 1000, "most damage is caught ({valid} still valid, {errors} errors)");
    }

    #[test]
    fn category_set_operations() {
        let s = CategorySet::EMPTY.with(0).with(5).with(64);
        assert!(s.contains(0) && s.contains(5) && !s.contains(1) && !s.contains(64));
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 5]);
        assert_eq!(s.toggled(5), CategorySet::EMPTY.with(0));
        assert_eq!(s.without(0).toggled(1).bits(), 0b100010);
        assert!(CategorySet::EMPTY.with(0).is_subset_of(s) && !s.is_subset_of(CategorySet::EMPTY.with(0)));
        assert!(s.intersects(CategorySet::EMPTY.with(5)) && !s.intersects(CategorySet::EMPTY.with(3)));
        assert_eq!(format!("{s:?}"), "CategorySet(<redacted>)");
    }
}
