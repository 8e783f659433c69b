//! Errors of the screen renderer.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    #[error("font file {path} could not be read ({reason}); install the Debian package `fonts-dejavu-core`")]
    FontMissing { path: PathBuf, reason: String },
    #[error(
        "font file {path} is not a usable TrueType font; reinstall the Debian package `fonts-dejavu-core`"
    )]
    FontInvalid { path: PathBuf },
    #[error("display is {width}x{height} pixels, too small for the kiosk screens; use at least 480x320")]
    DisplayTooSmall { width: u32, height: u32 },
    #[error("activation QR code could not be built ({reason}); issue a shorter activation token")]
    Qr { reason: String },
    #[error("{count} choices do not fit on a {width}x{height} screen with finger-sized buttons; offer fewer categories in the social payments rules")]
    TooManyChoices { count: usize, width: u32, height: u32 },
    #[error("screen texts: {0}")]
    Messages(Box<kiosk_config::messages::MessagesError>),
    #[error("drawing on the display failed: {0}")]
    Display(#[from] kiosk_hal::DisplayError),
}

impl From<kiosk_config::messages::MessagesError> for UiError {
    fn from(e: kiosk_config::messages::MessagesError) -> Self {
        Self::Messages(Box::new(e))
    }
}
