//! The screen vocabulary: what the flow asks the shell to show, and what the person can touch.
//!
//! Plain values, no drawing: `ui` draws a [`Screen`] and says it, the flow decides which one.
//! They live here so that the pure core depends on nothing above it.

pub use super::keyed::{FieldState, MrzField};

/// A rectangle in display pixels (the face box over the camera preview).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceBox {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

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
    /// Spoken prompts for every screen (through the HAL's `Speaker`).
    pub spoken: bool,
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

impl Guidance {
    /// Every guidance, in declaration order.
    pub const ALL: [Guidance; 10] = [
        Self::LookAtCamera,
        Self::ComeCloser,
        Self::MoveBack,
        Self::OnePersonOnly,
        Self::HoldStill,
        Self::TooDark,
        Self::TooBright,
        Self::UnevenLight,
        Self::TurnLeft,
        Self::TurnRight,
    ];
}

/// Why the onboarding was refused; shown politely, never with personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    ConsentDeclined,
    DocumentUnreadable,
    DocumentNotTrusted,
    /// The document's expiry date has passed (or cannot be read from the chip).
    DocumentExpired,
    /// The holder is younger than `min_age` by the chip's birth date (or it is unknown).
    Underage { min_age: u8 },
    NoFaceFound,
    FaceMismatch,
    LivenessFailed,
    AlreadyEnrolled,
    Timeout,
    /// The person pressed "cancel" after starting; whatever was read is wiped.
    Cancelled,
    /// The chip refused every access key keyed in (check digits right, data not the chip's).
    KeyedMrzRefused,
}

impl Refusal {
    /// Every reason, in declaration order.
    pub const ALL: [Refusal; 12] = [
        Self::ConsentDeclined,
        Self::DocumentUnreadable,
        Self::DocumentNotTrusted,
        Self::DocumentExpired,
        Self::Underage { min_age: 18 },
        Self::NoFaceFound,
        Self::FaceMismatch,
        Self::LivenessFailed,
        Self::AlreadyEnrolled,
        Self::Timeout,
        Self::Cancelled,
        Self::KeyedMrzRefused,
    ];
}

/// Every screen the kiosk can show.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    /// Attract screen: language and accessibility choice, "Start".
    Welcome,
    /// Consent to personal and biometric data processing, shown a page at a time; "accept"
    /// is offered only once the person has reached the last page.
    Consent {
        version: String,
        text: String,
        /// Page shown, from 0; the renderer clamps it and reports the page count (`ui::Layout::pages`).
        page: u16,
        can_accept: bool,
    },
    /// "Place your passport on the reader".
    PlaceDocument,
    /// The reader has no MRZ window: key in the document number, birth date and expiry date,
    /// each with its check digit, on the on-screen keys or the keypad.
    MrzEntry {
        /// The three fields in order (document number, birth date, expiry date).
        fields: [KeyedField; 3],
        active: MrzField,
        /// The letter keys are up instead of the digits (document number only), at this page
        /// (wrapped to the pages the panel needs).
        letters: Option<u8>,
        notice: Option<MrzNotice>,
    },
    /// Chip being read: a progress message.
    ReadingDocument,
    /// Live face capture with guidance; `face_box` in display pixels.
    FaceCapture {
        guidance: Option<Guidance>,
        face_box: Option<FaceBox>,
        /// The camera picture, mirrored and scaled to the preview area (memory only).
        preview: Option<Preview>,
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
        /// A receipt printer is configured and ready: offer "print".
        can_print: bool,
        /// What became of a print asked for on this screen.
        receipt: Option<ReceiptStatus>,
    },
    /// Offer to have state social payments credited to the new account, in two steps.
    SocialPayments {
        step: SocialStep,
        /// Categories the person may tick (labels in the screen's language), and whether ticked.
        categories: Vec<Choice>,
        /// Kinds of support the person may be entitled to, given age and ticked categories.
        kinds: Vec<String>,
    },
    /// Thank you and goodbye: take the passport (and the receipt).
    Goodbye {
        receipt_printed: bool,
        /// The person asked for social payments to be credited to the account.
        social_payments_requested: bool,
    },
    Refused {
        reason: Refusal,
    },
    OutOfService,
}

/// One keyed-in field as the screen shows it. The typed text is personal data: memory only,
/// and `Debug` does not show it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct KeyedField {
    pub text: String,
    pub state: FieldState,
}

impl std::fmt::Debug for KeyedField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyedField {{ <{} characters>, {:?} }}", self.text.chars().count(), self.state)
    }
}

/// Why the entry screen asks the person to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzNotice {
    /// "Next" on a field that is incomplete or wrong.
    CheckField,
    /// The chip did not accept the keyed data: check what was typed; reads left.
    ChipRefused { attempts_left: u8 },
}

/// The camera picture for the face-capture screen: RGB, 3 bytes a pixel, row by row.
#[derive(Clone, PartialEq, Eq)]
pub struct Preview {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preview({}x{})", self.width, self.height)
    }
}

/// The steps of the social-payments offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocialStep {
    /// Tick what applies to you (categories); "next" or "no, thanks".
    Categories,
    /// What you may be entitled to, and the answer: credit them here, or no, thanks ("back"
    /// returns to the categories).
    Answer,
}

/// A tickable option on a screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub label: String,
    pub selected: bool,
}

/// What became of a receipt print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    Printed,
    /// The printer failed (no paper, offline): the person is told, the account is not affected.
    Failed,
}

/// On-screen buttons a touch can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonId {
    Start,
    LanguageRu,
    LanguageEn,
    LargeText,
    HighContrast,
    /// Spoken prompts on/off.
    Speech,
    Accept,
    Decline,
    /// Consent text: previous / next page.
    ScrollUp,
    ScrollDown,
    Cancel,
    /// Go on to the next step (after the QR code).
    Next,
    PrintReceipt,
    /// Social payments: tick / untick the category at this index of the rules file.
    Category(u8),
    /// Social payments: credit them to the new account / no thanks.
    CreditPayments,
    NoThanks,
    /// Back to the previous step (social payments: from the answer to the categories; keyed
    /// MRZ: the previous field).
    Back,
    /// Keyed MRZ: a character key (`b'0'..=b'9'`, `b'A'..=b'Z'`).
    Char(u8),
    /// Keyed MRZ: erase the last character.
    Backspace,
    /// Keyed MRZ: the letter keys (from the digits), or their next page (from the letters).
    Letters,
    /// Keyed MRZ: back from the letters to the digit keys.
    Digits,
    Finish,
}
