//! The shell's error: one enum for every subcommand, each message naming what to do, and a
//! [`ErrorKind`] (in the manner of embedded-hal's) for callers that must act on the fault.

use std::process::ExitCode;

use crate::{account, identity, store, vision};

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Transient: the same operation may succeed when tried again (a reader just reopened, the
    /// bank core out of reach).
    Retryable,
    /// A device stopped answering or cannot be opened: out of service until it is back.
    DeviceGone,
    /// What came in (a document, an image, a token, a record) is wrong; the kiosk itself is fine.
    BadData,
    /// The kiosk is set up wrong (configuration, keys, models, trust store): retrying will not
    /// help until it is fixed.
    Configuration,
    /// None of the above (a bug, the disk, an unexpected library failure).
    Other,
}

/// Everything a subcommand can fail with; each names what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] kiosk_config::ConfigError),
    #[error(transparent)]
    Vision(#[from] vision::VisionError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    KeyStore(#[from] store::KeyStoreError),
    #[error(transparent)]
    Audit(#[from] store::AuditError),
    #[error(transparent)]
    Keys(#[from] account::KeyError),
    #[error("key-encryption key: {0}")]
    Credential(#[from] crate::keys::CredentialError),
    #[error(transparent)]
    Limits(#[from] account::LimitsError),
    #[error("activation token rejected: {0}")]
    Token(#[from] account::TokenError),
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    #[error(transparent)]
    CardReader(#[from] kiosk_hal::CardReaderError),
    #[error(transparent)]
    Camera(#[from] kiosk_hal::CameraError),
    #[error(transparent)]
    Display(#[from] kiosk_hal::DisplayError),
    #[error(transparent)]
    Input(#[from] kiosk_hal::InputError),
    #[error(transparent)]
    Speaker(#[from] kiosk_hal::SpeakerError),
    #[error(transparent)]
    Printer(#[from] kiosk_hal::PrinterError),
    #[error(transparent)]
    Ui(#[from] crate::ui::UiError),
    #[error("{image}: {detail}")]
    NoFace { image: String, detail: String },
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error("demo check failed: {0}")]
    DemoExpectation(String),
    #[error(transparent)]
    BankCard(#[from] identity::emv::EmvError),
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    #[error(transparent)]
    Open(#[from] crate::wiring::OpenError),
    #[error(transparent)]
    Settings(#[from] crate::wiring::SettingsError),
    #[error(transparent)]
    NotProduction(#[from] crate::wiring::NotProductionError),
}

impl AppError {
    pub fn io(what: impl Into<String>, error: impl std::fmt::Display) -> Self {
        Self::Io { what: what.into(), reason: error.to_string() }
    }

    /// What kind of fault this is, so a caller can tell one worth retrying from a fatal one.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Self::Config(_) | Self::Settings(_) | Self::NotProduction(_) | Self::Usage(_) => K::Configuration,
            Self::Keys(_) | Self::KeyStore(_) | Self::Credential(_) | Self::Limits(_) | Self::Ui(_) => K::Configuration,
            Self::Vision(error) => match error {
                vision::VisionError::Undecodable { .. } | vision::VisionError::ImageRead { .. } => K::BadData,
                vision::VisionError::Inference { .. } | vision::VisionError::OpenCv(_) => K::Other,
                _ => K::Configuration,
            },
            Self::CardReader(error) => reader_kind(error),
            Self::Identity(identity::IdentityError::Reader(error)) => reader_kind(error),
            Self::Identity(identity::IdentityError::TrustStore(_)) => K::Configuration,
            Self::Identity(_) | Self::BankCard(_) | Self::Token(_) | Self::NoFace { .. } | Self::Audit(_) => K::BadData,
            Self::Camera(_) | Self::Display(_) | Self::Input(_) | Self::Speaker(_) | Self::Printer(_) | Self::Open(_) => {
                K::DeviceGone
            }
            Self::Sync(_) => K::Retryable,
            Self::Store(_) | Self::Io { .. } | Self::DemoExpectation(_) => K::Other,
        }
    }

    /// 2 for every error, so that scripts tell errors from a negative answer (exit 1).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}

/// A card reader that was just reopened may be used again at once; a command the reader cannot
/// take is the caller's mistake; anything else is the reader gone.
fn reader_kind(error: &kiosk_hal::CardReaderError) -> ErrorKind {
    match error {
        kiosk_hal::CardReaderError::Reconnected => ErrorKind::Retryable,
        kiosk_hal::CardReaderError::CommandTooLong { .. } => ErrorKind::Other,
        _ => ErrorKind::DeviceGone,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_reader_is_retryable_and_a_silent_one_is_gone() {
        assert_eq!(AppError::from(kiosk_hal::CardReaderError::Reconnected).kind(), ErrorKind::Retryable);
        let silent = kiosk_hal::CardReaderError::Timeout { timeout_ms: 500 };
        assert_eq!(AppError::from(silent).kind(), ErrorKind::DeviceGone);
        let through_identity = identity::IdentityError::Reader(kiosk_hal::CardReaderError::NoAcknowledge { attempts: 3 });
        assert_eq!(AppError::from(through_identity).kind(), ErrorKind::DeviceGone);
    }

    #[test]
    fn set_up_faults_are_configuration_and_input_faults_bad_data() {
        assert_eq!(AppError::Usage("x".into()).kind(), ErrorKind::Configuration);
        let missing = vision::VisionError::ModelMissing { id: "sface".into(), path: "m".into(), source_hint: "pypi".into() };
        assert_eq!(AppError::from(missing).kind(), ErrorKind::Configuration);
        let photo = vision::VisionError::Undecodable { what: "DG2 face photo".into() };
        assert_eq!(AppError::from(photo).kind(), ErrorKind::BadData);
        assert_eq!(AppError::from(identity::IdentityError::NoDocument).kind(), ErrorKind::BadData);
        assert_eq!(AppError::io("session", "devices lost").kind(), ErrorKind::Other);
    }
}
