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
    /// The configuration asks for a simulated device and this binary has no simulators.
    #[error(
        "{key} = \"{driver}\": simulator not built into this binary: this is a production build; \
         use the real driver (deploy/site.example.toml) or a demo build (`cargo build --features demo`)"
    )]
    SimulatorNotBuilt {
        /// The configuration key naming the simulator (`camera.driver`).
        key: &'static str,
        /// The simulated driver it names (`replay`).
        driver: &'static str,
    },
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
