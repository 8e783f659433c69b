//! The shell's error: one enum for every subcommand, each message naming what to do, and a
//! [`ErrorKind`] (in the manner of embedded-hal's) for callers that must act on the fault.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{account, identity, store, vision};

/// What a caller can do about an error. `kiosk run` decides with it whether a session's error
/// takes the kiosk out of service ([`ErrorKind::takes_out_of_service`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Transient: the same operation may succeed when tried again (a reader just reopened, the
    /// bank core out of reach). The next session simply starts.
    Retryable,
    /// A device stopped answering or cannot be opened: out of service, reopened with back-off
    /// until it answers.
    DeviceGone,
    /// Caused by the person or what they brought (a document, an image, a token, a record):
    /// the kiosk itself is fine and serves the next person.
    BadData,
    /// The kiosk is set up wrong (configuration, keys, models, trust store): fatal until it is
    /// fixed, retrying will not help.
    Configuration,
    /// None of the above (a bug, the disk, an unexpected library failure): treated as fatal.
    Other,
}

impl ErrorKind {
    /// Whether the kiosk must stop serving people until the fault is cleared: a device gone,
    /// the kiosk set up wrong, or something unexpected; not a transient fault, nor one the
    /// person caused.
    pub fn takes_out_of_service(self) -> bool {
        match self {
            Self::DeviceGone | Self::Configuration | Self::Other => true,
            Self::Retryable | Self::BadData => false,
        }
    }

    /// Stable label for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::DeviceGone => "device_gone",
            Self::BadData => "bad_data",
            Self::Configuration => "configuration",
            Self::Other => "other",
        }
    }
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
    /// A file or folder a command reads or writes, and the system's reason: missing or not
    /// allowed is the kiosk set up wrong, anything else the disk.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// No kiosk database where one must be: the data folder given is not the kiosk's.
    #[error("{}: {hint}", path.display())]
    NoDatabase { path: PathBuf, hint: &'static str },
    /// A thread, task or runtime of the shell's own could not start or ended abnormally.
    #[error("{what}: {reason}")]
    Task { what: &'static str, reason: String },
    /// The shell's own state broke an invariant (a bug, never the person's or a device's data):
    /// where, and what was missing.
    #[error("{what}: {reason}")]
    Internal { what: String, reason: String },
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
    /// Reading or writing `path` failed.
    pub fn file(path: &Path, source: std::io::Error) -> Self {
        Self::File { path: path.to_path_buf(), source }
    }

    /// The shell's `what` (a thread, a task, the runtime) failed to start or to finish.
    pub fn task(what: &'static str, error: impl std::fmt::Display) -> Self {
        Self::Task { what, reason: error.to_string() }
    }

    /// An invariant of the shell's own broke at `what`.
    pub fn internal(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Internal { what: what.into(), reason: reason.to_string() }
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
            Self::Identity(error) => identity_kind(error),
            Self::BankCard(_) | Self::Token(_) | Self::NoFace { .. } | Self::Audit(_) => K::BadData,
            Self::Camera(_) | Self::Display(_) | Self::Input(_) | Self::Speaker(_) | Self::Printer(_) | Self::Open(_) => {
                K::DeviceGone
            }
            Self::Sync(_) => K::Retryable,
            Self::File { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => K::Configuration,
                _ => K::Other,
            },
            Self::NoDatabase { .. } => K::Configuration,
            Self::Store(_) | Self::Task { .. } | Self::Internal { .. } | Self::DemoExpectation(_) => K::Other,
        }
    }

    /// The part of the kiosk at fault, as `/metrics` counts device errors: the device
    /// (`card_reader`, `camera`, `display`, `input`, `speaker`, `printer`), `store`, `models`,
    /// or `other`.
    pub fn component(&self) -> &'static str {
        use crate::wiring::OpenError as O;
        match self {
            Self::CardReader(_) | Self::Identity(_) | Self::Open(O::CardReader(_) | O::ReaderSimulator(_)) => {
                "card_reader"
            }
            Self::Camera(_) | Self::Open(O::Camera(_)) => "camera",
            Self::Display(_) | Self::Ui(_) | Self::Open(O::Display(_)) => "display",
            Self::Input(_) | Self::Open(O::Input(_)) => "input",
            Self::Speaker(_) | Self::Open(O::Speaker(_)) => "speaker",
            Self::Printer(_) | Self::Open(O::Printer(_)) => "printer",
            Self::Store(_) | Self::KeyStore(_) => "store",
            Self::Vision(_) => "models",
            _ => "other",
        }
    }

    /// 2 for every error, so that scripts tell errors from a negative answer (exit 1).
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(2)
    }
}

/// A card reader that was just reopened may be used again at once; a command the reader cannot
/// take is the caller's mistake; a reader reporting no document, no card or a chip that does
/// not answer well is about what the person placed; anything else is the reader gone.
pub fn reader_kind(error: &kiosk_hal::CardReaderError) -> ErrorKind {
    use kiosk_hal::card_reader::DeviceErrorKind as D;
    match error {
        kiosk_hal::CardReaderError::Reconnected => ErrorKind::Retryable,
        kiosk_hal::CardReaderError::CommandTooLong { .. } => ErrorKind::Other,
        kiosk_hal::CardReaderError::Device {
            kind: D::NoCard | D::NoDocument | D::ContactlessNoCard | D::ContactlessCommunication | D::ChipCommunication,
            ..
        } => ErrorKind::BadData,
        _ => ErrorKind::DeviceGone,
    }
}

/// A document read: the reader's faults as [`reader_kind`], the kiosk's own trust store is
/// configuration, everything else is about the document the person placed.
pub fn identity_kind(error: &identity::IdentityError) -> ErrorKind {
    match error {
        identity::IdentityError::Reader(error) => reader_kind(error),
        identity::IdentityError::TrustStore(_) => ErrorKind::Configuration,
        _ => ErrorKind::BadData,
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
    fn what_the_person_placed_is_person_caused_and_keeps_the_kiosk_serving() {
        use kiosk_hal::card_reader::DeviceErrorKind as D;
        for kind in [D::NoDocument, D::NoCard, D::ContactlessNoCard, D::ContactlessCommunication, D::ChipCommunication] {
            let error = kiosk_hal::CardReaderError::Device { code: "80".into(), kind };
            assert_eq!(reader_kind(&error), ErrorKind::BadData, "{kind:?}");
            assert!(!AppError::from(error).kind().takes_out_of_service());
        }
        // A jammed or uninitialised reader is the kiosk's, not the person's.
        for kind in [D::CardJam, D::NotInitialised, D::ChipPowerFault, D::Other] {
            let error = kiosk_hal::CardReaderError::Device { code: "10".into(), kind };
            assert_eq!(AppError::from(error).kind(), ErrorKind::DeviceGone, "{kind:?}");
        }
        for error in [identity::IdentityError::NoChip, identity::IdentityError::DocumentMismatch, identity::IdentityError::AccessDenied] {
            assert_eq!(identity_kind(&error), ErrorKind::BadData);
            assert!(!AppError::from(error).kind().takes_out_of_service());
        }
        let photo = AppError::from(vision::VisionError::Undecodable { what: "DG2 face photo".into() });
        assert!(!photo.kind().takes_out_of_service(), "a passport's bad photo must not stop the kiosk");
    }

    #[test]
    fn devices_gone_set_up_faults_and_the_unexpected_take_the_kiosk_out_of_service() {
        let out = |error: AppError| (error.kind().takes_out_of_service(), error.component());
        assert_eq!(out(kiosk_hal::CardReaderError::Timeout { timeout_ms: 500 }.into()), (true, "card_reader"));
        let camera = kiosk_hal::CameraError::Open { device: "/dev/video0".into(), reason: "gone".into() };
        assert_eq!(out(camera.into()), (true, "camera"));
        assert_eq!(out(AppError::Usage("bad setting".into())), (true, "other"));
        let missing = vision::VisionError::ModelMissing { id: "sface".into(), path: "m".into(), source_hint: "pypi".into() };
        assert_eq!(out(missing.into()), (true, "models"));
        assert_eq!(out(AppError::internal("session", "devices lost")), (true, "other"));
        // A reader just reopened: the next session may start at once.
        assert_eq!(out(kiosk_hal::CardReaderError::Reconnected.into()), (false, "card_reader"));
        let kinds = [ErrorKind::Retryable, ErrorKind::DeviceGone, ErrorKind::BadData, ErrorKind::Configuration, ErrorKind::Other];
        let codes: std::collections::BTreeSet<_> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len(), "one label per kind");
    }

    #[test]
    fn set_up_faults_are_configuration_and_input_faults_bad_data() {
        assert_eq!(AppError::Usage("x".into()).kind(), ErrorKind::Configuration);
        let missing = vision::VisionError::ModelMissing { id: "sface".into(), path: "m".into(), source_hint: "pypi".into() };
        assert_eq!(AppError::from(missing).kind(), ErrorKind::Configuration);
        let photo = vision::VisionError::Undecodable { what: "DG2 face photo".into() };
        assert_eq!(AppError::from(photo).kind(), ErrorKind::BadData);
        assert_eq!(AppError::from(identity::IdentityError::NoDocument).kind(), ErrorKind::BadData);
        assert_eq!(AppError::internal("session", "devices lost").kind(), ErrorKind::Other);
    }

    #[test]
    fn a_missing_or_forbidden_file_is_set_up_and_a_failing_disk_is_not_known() {
        use std::io::{Error, ErrorKind as Io};
        let file = |kind| AppError::file(Path::new("/var/lib/kiosk/site.toml"), Error::from(kind));
        assert_eq!(file(Io::NotFound).kind(), ErrorKind::Configuration);
        assert_eq!(file(Io::PermissionDenied).kind(), ErrorKind::Configuration);
        assert_eq!(file(Io::StorageFull).kind(), ErrorKind::Other);
        // The message names the path first, as every file error of the shell did.
        assert!(file(Io::NotFound).to_string().starts_with("/var/lib/kiosk/site.toml: "));
        let missing = AppError::NoDatabase { path: "/d/kiosk.db".into(), hint: "no such database file" };
        assert_eq!((missing.to_string().as_str(), missing.kind()), ("/d/kiosk.db: no such database file", ErrorKind::Configuration));
        assert_eq!(AppError::task("upkeep thread", "no memory").to_string(), "upkeep thread: no memory");
        assert!(AppError::task("upkeep thread", "no memory").kind().takes_out_of_service());
    }
}
