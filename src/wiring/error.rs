//! Why the kiosk could not be built from its configuration.

use kiosk_hal::{CameraError, CardReaderError, DisplayError, InputError, PrinterError, SpeakerError};

/// A device could not be opened as configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error(transparent)]
    CardReader(#[from] CardReaderError),
    /// The card reader simulator (its pseudo-terminal) could not start.
    #[error("card reader simulator: {0}")]
    ReaderSimulator(String),
    #[error(transparent)]
    Camera(#[from] CameraError),
    #[error(transparent)]
    Display(#[from] DisplayError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Speaker(#[from] SpeakerError),
    #[error(transparent)]
    Printer(#[from] PrinterError),
}

/// A setting the configuration loader accepts but the domain refuses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("account.allowed_operations: unknown operation `{0}`")]
    UnknownOperation(String),
    #[error(transparent)]
    Limits(#[from] crate::account::LimitsError),
    #[error("social payments rules: {0}")]
    SocialRules(String),
    #[error(transparent)]
    Ui(#[from] crate::ui::UiError),
}
