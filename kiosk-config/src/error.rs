use std::path::PathBuf;

/// What is wrong with a configuration, always naming the file and, where there is one, the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{file}: cannot read the configuration file: {source}")]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{file}{}: not valid TOML: {message}", line_suffix(*.line))]
    Syntax { file: PathBuf, line: Option<usize>, message: String },
    #[error("{file}{}: unknown key `{key}`; expected one of: {expected}", line_suffix(*.line))]
    UnknownKey { file: PathBuf, line: Option<usize>, key: String, expected: String },
    #[error("{file}{}: key `{key}` has the wrong type: expected {expected}, found {found}", line_suffix(*.line))]
    WrongType { file: PathBuf, line: Option<usize>, key: String, expected: String, found: String },
    #[error("{file}{}: key `{key}` = {value} is out of range: expected {expected}", line_suffix(*.line))]
    OutOfRange { file: PathBuf, line: Option<usize>, key: String, value: String, expected: String },
    #[error("{file}{}: key `{key}`: {message}", line_suffix(*.line))]
    Invalid { file: PathBuf, line: Option<usize>, key: String, message: String },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|n| format!(":{n}")).unwrap_or_default()
}

impl ConfigError {
    /// The key the error is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. }
            | Self::WrongType { key, .. }
            | Self::OutOfRange { key, .. }
            | Self::Invalid { key, .. } => Some(key),
            Self::Read { .. } | Self::Syntax { .. } => None,
        }
    }
}
