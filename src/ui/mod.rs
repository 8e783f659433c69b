//! Kiosk screens, drawn with embedded-graphics on any [`kiosk_hal::Display`].
//!
//! `render(&mut display, &screen, &options)` draws a screen and returns its [`Layout`]
//! (button rectangles for touches); the caller then calls `display.present(id)`.

mod error;
pub mod fonts;
mod icons;
mod layout;
mod qr;
mod render;
pub mod text;
mod textblock;
pub mod theme;
mod widgets;

pub use error::UiError;
pub use fonts::{FontSizes, Fonts};
pub use layout::Layout;
pub use render::{face_preview_area, render, render_with_fonts};
pub use theme::Theme;

use embedded_graphics::primitives::Rectangle;

/// Language of the texts; Russian is the default, English second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Ru,
    En,
}

/// How the person asked the screens to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UiOptions {
    pub language: Language,
    pub large_text: bool,
    pub high_contrast: bool,
}

/// Guidance shown over the camera preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guidance {
    LookAtCamera,
    ComeCloser,
    MoveBack,
    OnePersonOnly,
    HoldStill,
    TooDark,
    TooBright,
    UnevenLight,
    /// Liveness challenge: turn the head to the person's own left, then back.
    TurnLeft,
    /// Liveness challenge: turn the head to the person's own right, then back.
    TurnRight,
}

/// Why the onboarding was refused; shown politely, never with personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    ConsentDeclined,
    DocumentUnreadable,
    DocumentNotTrusted,
    NoFaceFound,
    FaceMismatch,
    LivenessFailed,
    AlreadyEnrolled,
    Timeout,
}

/// Every screen the kiosk can show.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Attract screen: language and accessibility choice, "Start".
    Welcome,
    /// Consent to personal and biometric data processing.
    Consent {
        version: String,
        text: String,
    },
    /// "Place your passport on the reader".
    PlaceDocument,
    /// Chip being read: a progress message.
    ReadingDocument,
    /// Live face capture with guidance; `face_box` in display pixels.
    FaceCapture {
        guidance: Option<Guidance>,
        face_box: Option<Rectangle>,
    },
    /// Comparing the face with the document.
    Verifying,
    /// The demo account is ready; the QR code carries the activation token.
    AccountIssued {
        /// Short, non-secret reference the person can quote to support (not the full id).
        account_reference: String,
        per_transaction_limit_rub: u64,
        daily_limit_rub: u64,
        monthly_limit_rub: u64,
        activation_token: String,
        /// Local time the token expires, already formatted ("14:35").
        expires_at: String,
    },
    Refused {
        reason: Refusal,
    },
    OutOfService,
}

/// On-screen buttons a touch can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonId {
    Start,
    LanguageRu,
    LanguageEn,
    LargeText,
    HighContrast,
    Accept,
    Decline,
    Cancel,
    Finish,
}
