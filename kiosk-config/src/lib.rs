//! Kiosk configuration: typed keys with defaults from `default.toml`, a site file that may
//! override any of them, and errors that name the file, the key and what was expected.
//!
//! Loading is strict by design: a kiosk in the street must not start with a typo silently
//! ignored (`dispaly.width = 1280` would otherwise leave the default in force).
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod consent;
mod error;
mod lines;
mod load;
pub mod messages;
mod model;
mod social;
mod validate;

pub use consent::{consent_text, ConsentLanguage};
pub use error::ConfigError;
pub use load::{load, load_str, DEFAULT_FILE_NAME, DEFAULT_TOML};
pub use model::*;
pub use social::{
    builtin_versions as social_rules_versions, Category, CategorySet, Condition, Kind, Label, Payer, SocialRules,
    SocialRulesError, MAX_AGE_BOUND, MAX_CATEGORIES, SOCIAL_RULES_FILE_NAME,
};
