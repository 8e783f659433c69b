//! Receipt printer (optional on a kiosk).
//!
//! A [`Receipt`] is device-neutral: a list of [`ReceiptLine`]s. [`EscPosPrinter`] lays it out
//! for the paper width and speaks ESC/POS over a serial port or a device file such as
//! `/dev/usb/lp0` (CP866 for Cyrillic, a native QR code, a cut), and reads the printer's state
//! with the real-time `DLE EOT n` requests. The simulator ([`sim`]) is the printer's side of
//! the same protocol on a pseudo-terminal: it decodes what it receives back into lines and QR
//! payloads and answers the status requests, with faults on demand (paper out, cover open,
//! no answer).
//!
//! Receipts can hold a person's name: no driver logs their text.

pub mod cp866;
mod driver;
pub mod escpos;
#[cfg(feature = "sim")]
pub mod sim;
#[cfg(test)]
mod tests;

pub use driver::EscPosPrinter;

/// What the printer says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrinterStatus {
    Ready,
    /// Prints, but the roll is nearly used up.
    PaperLow,
    PaperOut,
    CoverOpen,
    /// Not answering, or stopped by an error (cutter jam, head too hot).
    Offline,
}

impl PrinterStatus {
    /// True when a receipt can be printed now.
    pub fn can_print(self) -> bool {
        matches!(self, Self::Ready | Self::PaperLow)
    }

    /// What a technician should do, `None` when nothing.
    pub fn action(self) -> Option<&'static str> {
        match self {
            Self::Ready => None,
            Self::PaperLow => Some("put a new paper roll in soon"),
            Self::PaperOut => Some("put a new paper roll in the printer and close its cover"),
            Self::CoverOpen => Some("close the printer's cover"),
            Self::Offline => Some("check the printer's power, its cable and the `printer.device` setting; clear a paper jam if the error light is on"),
        }
    }
}

impl std::fmt::Display for PrinterStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Ready => "ready",
            Self::PaperLow => "paper low",
            Self::PaperOut => "paper out",
            Self::CoverOpen => "cover open",
            Self::Offline => "offline",
        })
    }
}

/// One element of a receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptLine {
    /// Large, bold, centred.
    Title(String),
    /// Wrapped at word boundaries; an empty text is a blank line.
    Text(String),
    /// `key` on the left, `value` on the right.
    KeyValue { key: String, value: String },
    /// A QR code of this payload, centred.
    Qr(String),
    /// A dashed line across the paper.
    Separator,
}

/// A receipt, independent of any printer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    pub lines: Vec<ReceiptLine>,
}

impl Receipt {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn title(mut self, text: impl Into<String>) -> Self {
        self.lines.push(ReceiptLine::Title(text.into()));
        self
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.lines.push(ReceiptLine::Text(text.into()));
        self
    }

    pub fn key_value(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.lines.push(ReceiptLine::KeyValue { key: key.into(), value: value.into() });
        self
    }

    pub fn qr(mut self, payload: impl Into<String>) -> Self {
        self.lines.push(ReceiptLine::Qr(payload.into()));
        self
    }

    pub fn separator(mut self) -> Self {
        self.lines.push(ReceiptLine::Separator);
        self
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrinterError {
    #[error("printer {device} could not be opened: {reason}. Check the cable, the printer's power and the `printer.device` setting")]
    Open { device: String, reason: String },
    #[error("printer line error: {0}. Check the cable; the printer may have been unplugged")]
    Io(#[from] std::io::Error),
    #[error("printer is not ready ({status}): {action}", action = status.action().unwrap_or("try again"))]
    NotReady { status: PrinterStatus },
    #[error("printer answered a status request with {byte:#04x}, which is not an ESC/POS status byte: check the baud rate (`printer.baud`) matches the printer")]
    Protocol { byte: u8 },
    #[error("QR payload of {len} bytes is too long for one code (at most {max})", max = escpos::MAX_QR_BYTES)]
    QrTooLong { len: usize },
    #[error("printer paper width of {columns} columns is out of range ({min} to {max})", min = escpos::MIN_COLUMNS, max = escpos::MAX_COLUMNS)]
    Columns { columns: u16 },
    #[error("printer simulator: {0}")]
    Simulator(String),
}

/// The kiosk's receipt printer.
pub trait Printer: Send {
    /// Asks the printer for its state (a few real-time requests; under a second).
    fn status(&mut self) -> Result<PrinterStatus, PrinterError>;
    /// Prints and cuts one receipt; refuses with [`PrinterError::NotReady`] unless the printer
    /// is ready (before, and again after sending it: paper that ran out on the way counts).
    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError>;
}
