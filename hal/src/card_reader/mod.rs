//! Card reader: the combined ID-document / bank-card reader on a serial line.
//!
//! The protocol is `../shared/protocols/card-reader-serial.md` (CRT-571 style framing).
//! [`CardReader`] is what the kiosk uses; the real driver speaks the protocol through
//! `serialport`, and the simulator plays the device on the far end of a pseudo-terminal.

pub mod frame;
mod serial;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(test)]
mod tests;

pub use serial::{SerialCardReader, Timeouts};

/// Which chip interface an APDU goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChipInterface {
    Contact,
    Contactless,
}

/// Where the card is, from ST0 of a positive reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardPosition {
    NoCard,
    AtGate,
    Inside,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderStatus {
    pub card_position: CardPosition,
}

/// A card activated in the contactless field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactlessCard {
    /// `'A'` or `'B'`.
    pub card_type: char,
    pub uid: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardReaderError {
    #[error("card reader port {port} could not be opened: {reason}. Check the cable and the `card_reader.port` setting")]
    Open { port: String, reason: String },
    #[error("card reader line error: {0}. Check the cable; the reader may have been unplugged")]
    Io(#[from] std::io::Error),
    #[error("card reader did not acknowledge the command after {attempts} attempts")]
    NoAcknowledge { attempts: u32 },
    #[error("card reader did not answer within {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("card reader sent a malformed reply: {0}")]
    Protocol(String),
    #[error("card reader refused the command: {kind} (code {code})")]
    Device { code: String, kind: DeviceErrorKind },
    #[error("card reader on {port} is disconnected and could not be reopened: check its cable and power; the kiosk tries again at the next command")]
    Disconnected { port: String },
    #[error("card reader was unplugged and has been reopened and re-initialised; the card or document session was lost: start the read again")]
    Reconnected,
    #[error("command of {len} bytes does not fit in one frame (at most {max}); split it (e.g. chained APDUs)", max = frame::MAX_LEN)]
    CommandTooLong { len: usize },
}

/// The reader's E1E0 error codes, with what they mean for the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceErrorKind {
    UnknownCommand,
    ParameterError,
    NotAllowedNow,
    CardJam,
    NoCard,
    ChipPowerFault,
    ChipNoAnswerToReset,
    ChipCommunication,
    ContactlessNoCard,
    ContactlessCommunication,
    NoDocument,
    NotInitialised,
    Other,
}

impl DeviceErrorKind {
    /// Maps an E1E0 code of a negative reply.
    pub fn from_code(code: &str) -> Self {
        match code {
            "00" => Self::UnknownCommand,
            "01" => Self::ParameterError,
            "02" => Self::NotAllowedNow,
            "10" => Self::CardJam,
            "40" => Self::NoCard,
            "60" => Self::ChipPowerFault,
            "61" => Self::ChipNoAnswerToReset,
            "63" => Self::ChipCommunication,
            "70" => Self::ContactlessNoCard,
            "71" => Self::ContactlessCommunication,
            "80" => Self::NoDocument,
            "B0" | "b0" => Self::NotInitialised,
            _ => Self::Other,
        }
    }
}

impl std::fmt::Display for DeviceErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::UnknownCommand => "unknown command",
            Self::ParameterError => "parameter error",
            Self::NotAllowedNow => "command not allowed in this state",
            Self::CardJam => "card jam: open the reader and clear it",
            Self::NoCard => "no card (or it was pulled out)",
            Self::ChipPowerFault => "chip power fault",
            Self::ChipNoAnswerToReset => "chip did not answer to reset",
            Self::ChipCommunication => "chip communication error or timeout",
            Self::ContactlessNoCard => "no card in the contactless field",
            Self::ContactlessCommunication => "contactless communication error",
            Self::NoDocument => "no document on the window, or its MRZ is unreadable",
            Self::NotInitialised => "reader not initialised",
            Self::Other => "unlisted error",
        };
        f.write_str(text)
    }
}

/// The host's view of the reader. Every method is one protocol command.
pub trait CardReader: Send {
    /// Initialises the reader (command 0x30 0x30); a card already inside stays.
    fn initialise(&mut self) -> Result<ReaderStatus, CardReaderError>;
    fn status(&mut self) -> Result<ReaderStatus, CardReaderError>;
    fn firmware_version(&mut self) -> Result<String, CardReaderError>;
    fn retain_bin_count(&mut self) -> Result<u16, CardReaderError>;
    /// OCR of the MRZ of a document lying on the reader's window, one string per line.
    fn scan_mrz(&mut self) -> Result<Vec<String>, CardReaderError>;
    fn activate_contactless(&mut self) -> Result<ContactlessCard, CardReaderError>;
    fn deactivate_contactless(&mut self) -> Result<(), CardReaderError>;
    /// Cold reset of the contact chip; returns the ATR.
    fn power_on_contact(&mut self) -> Result<Vec<u8>, CardReaderError>;
    fn power_off_contact(&mut self) -> Result<(), CardReaderError>;
    /// Sends one whole command APDU, returns the whole response APDU (data + SW1 SW2).
    fn transmit(&mut self, interface: ChipInterface, command: &[u8]) -> Result<Vec<u8>, CardReaderError>;
    fn eject(&mut self) -> Result<(), CardReaderError>;
    fn retain(&mut self) -> Result<(), CardReaderError>;
    /// Switches the document imager's light (command 0x71; `None`: all off). A reader whose
    /// firmware has no imager lights answers "unknown command", which is what this default
    /// reports, so readers without an imager need not implement it.
    fn set_light(&mut self, light: Option<crate::imager::Light>) -> Result<(), CardReaderError> {
        let _ = light;
        Err(CardReaderError::Device { code: "00".to_owned(), kind: DeviceErrorKind::UnknownCommand })
    }
}
