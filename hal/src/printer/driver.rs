//! [`Printer`] speaking ESC/POS over a serial port or a device file (`/dev/usb/lp0`).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use serialport::{ClearBuffer, SerialPort};

use crate::serial_line::open_8n1;

use super::escpos::{self, is_status_byte, status_request};
use super::{Printer, PrinterError, PrinterStatus, Receipt};

/// How long one serial read blocks.
/// Poll period of a non-blocking device file.
const POLL: Duration = Duration::from_millis(5);
/// A write making no progress this long (printer stuck, buffer full) fails.
const WRITE_STALL: Duration = Duration::from_secs(10);
/// Default wait for the answer to one `DLE EOT n`.
pub const STATUS_TIMEOUT: Duration = Duration::from_millis(500);

enum Port {
    Serial(Box<dyn SerialPort>),
    /// A printer device file, opened non-blocking.
    File(File),
}

impl Port {
    fn open(path: &str, baud: u32) -> Result<Self, PrinterError> {
        let error = |reason: String| PrinterError::Open { device: path.to_owned(), reason };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
            .open(path)
            .map_err(|e| error(e.to_string()))?;
        if !nix::unistd::isatty(&file).unwrap_or(false) {
            return Ok(Self::File(file));
        }
        drop(file);
        open_8n1(path, baud).map(Self::Serial).map_err(error)
    }

    /// Reads what has arrived, waiting at most a short slice; `Ok(0)` when nothing did.
    fn read_some(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = match self {
            Self::Serial(port) => port.read(buf),
            Self::File(file) => file.read(buf),
        };
        match result {
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => Ok(0),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(POLL);
                Ok(0)
            }
            // End of a device file: nothing to read yet.
            Ok(0) => {
                std::thread::sleep(POLL);
                Ok(0)
            }
            other => other,
        }
    }

    fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        let mut last_progress = Instant::now();
        while !bytes.is_empty() {
            let written = match self {
                Self::Serial(port) => port.write(bytes),
                Self::File(file) => file.write(bytes),
            };
            match written {
                Ok(n) if n > 0 => {
                    bytes = bytes.get(n..).unwrap_or_default();
                    last_progress = Instant::now();
                }
                Ok(_) => std::thread::sleep(POLL),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::Interrupted | ErrorKind::TimedOut
                    ) =>
                {
                    std::thread::sleep(POLL);
                }
                Err(e) => return Err(e),
            }
            if last_progress.elapsed() > WRITE_STALL {
                return Err(std::io::Error::new(ErrorKind::TimedOut, "the printer took no data for 10 s"));
            }
        }
        match self {
            Self::Serial(port) => port.flush(),
            Self::File(file) => file.flush(),
        }
    }

    /// Drops bytes that arrived before a request (late answers, automatic status).
    fn discard_input(&mut self) {
        match self {
            Self::Serial(port) => {
                let _ = port.clear(ClearBuffer::Input);
            }
            Self::File(file) => {
                let mut buf = [0u8; 256];
                while matches!(file.read(&mut buf), Ok(n) if n > 0) {}
            }
        }
    }
}

/// An ESC/POS receipt printer. After a line error the port is reopened at the next call.
pub struct EscPosPrinter {
    path: String,
    baud: u32,
    columns: u16,
    status_timeout: Duration,
    port: Option<Port>,
}

impl EscPosPrinter {
    /// Opens `path`: a serial port (`/dev/ttyS1`, `/dev/ttyUSB0`; 8N1 at `baud`, no flow
    /// control) or a printer device file (`/dev/usb/lp0`; `baud` unused). `columns` is the
    /// paper width in characters (32 for 58 mm paper, 48 for 80 mm).
    pub fn open(path: &str, baud: u32, columns: u16) -> Result<Self, PrinterError> {
        if !(escpos::MIN_COLUMNS..=escpos::MAX_COLUMNS).contains(&columns) {
            return Err(PrinterError::Columns { columns });
        }
        let port = Port::open(path, baud)?;
        tracing::info!(device = path, baud, columns, "receipt printer opened");
        Ok(Self { path: path.to_owned(), baud, columns, status_timeout: STATUS_TIMEOUT, port: Some(port) })
    }

    /// Wait for each status answer (default [`STATUS_TIMEOUT`]).
    pub fn with_status_timeout(mut self, timeout: Duration) -> Self {
        self.status_timeout = timeout;
        self
    }

    pub fn columns(&self) -> u16 {
        self.columns
    }

    fn port(&mut self) -> Result<&mut Port, PrinterError> {
        if self.port.is_none() {
            self.port = Some(Port::open(&self.path, self.baud)?);
            tracing::info!(device = %self.path, "receipt printer reopened");
        }
        self.port
            .as_mut()
            .ok_or_else(|| PrinterError::Open { device: self.path.clone(), reason: "not open".into() })
    }

    /// Forgets the port after a line error, so the next call reopens it.
    fn on_io_error(&mut self, error: std::io::Error) -> PrinterError {
        tracing::warn!(%error, device = %self.path, "printer line failed");
        self.port = None;
        PrinterError::Io(error)
    }

    /// One `DLE EOT n`: the status byte, or `None` when nothing came in time.
    fn request(&mut self, n: u8, timeout: Duration) -> Result<Option<u8>, PrinterError> {
        let port = self.port()?;
        port.discard_input();
        let sent = port.write_all(&status_request(n));
        let answer = sent.and_then(|()| {
            let deadline = Instant::now() + timeout;
            let mut byte = [0u8; 1];
            while Instant::now() < deadline {
                if port.read_some(&mut byte)? == 1 {
                    return Ok(Some(byte[0]));
                }
            }
            Ok(None)
        });
        match answer {
            Ok(Some(b)) if is_status_byte(b) => Ok(Some(b)),
            Ok(Some(byte)) => Err(PrinterError::Protocol { byte }),
            Ok(None) => Ok(None),
            Err(e) => Err(self.on_io_error(e)),
        }
    }

    /// `first_wait`: for the first answer, which may queue behind a receipt on the line.
    fn query(&mut self, first_wait: Duration) -> Result<PrinterStatus, PrinterError> {
        let Some(printer) = self.request(1, first_wait)? else {
            return Ok(PrinterStatus::Offline);
        };
        let timeout = self.status_timeout;
        let (Some(cause), Some(paper)) = (self.request(2, timeout)?, self.request(4, timeout)?) else {
            return Ok(PrinterStatus::Offline);
        };
        Ok(escpos::interpret_status(printer, cause, paper))
    }
}

impl EscPosPrinter {
    fn status_after(&mut self, first_wait: Duration) -> Result<PrinterStatus, PrinterError> {
        match self.query(first_wait) {
            // Unplugged (the device file is gone) is what "offline" means to the kiosk.
            Err(PrinterError::Open { reason, .. }) => {
                tracing::warn!(device = %self.path, %reason, "printer cannot be reopened");
                Ok(PrinterStatus::Offline)
            }
            Err(PrinterError::Io(_)) => Ok(PrinterStatus::Offline),
            other => {
                if let Ok(status) = &other {
                    tracing::debug!(%status, "printer status");
                }
                other
            }
        }
    }
}

impl Printer for EscPosPrinter {
    fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        self.status_after(self.status_timeout)
    }

    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError> {
        let bytes = escpos::encode(&escpos::layout(receipt, self.columns)?);
        let status = self.status()?;
        if !status.can_print() {
            return Err(PrinterError::NotReady { status });
        }
        let port = self.port()?;
        if let Err(e) = port.write_all(&bytes) {
            return Err(self.on_io_error(e));
        }
        // The request queues behind the receipt on a serial line: allow its transmission time.
        let line_time = Duration::from_micros(
            (bytes.len() as u64).saturating_mul(10_000_000) / u64::from(self.baud.max(1)),
        );
        let after = self.status_after(self.status_timeout + line_time)?;
        if !after.can_print() {
            tracing::warn!(status = %after, "printer stopped while printing");
            return Err(PrinterError::NotReady { status: after });
        }
        tracing::info!(bytes = bytes.len(), lines = receipt.lines.len(), "receipt printed");
        Ok(())
    }
}

impl Drop for EscPosPrinter {
    fn drop(&mut self) {
        // Leaves the printer in its power-on state for whoever comes next; one attempt only,
        // so dropping never waits on a stuck printer.
        let init = [escpos::ESC, b'@'];
        let _ = match &mut self.port {
            Some(Port::Serial(port)) => port.write(&init),
            Some(Port::File(file)) => file.write(&init),
            None => Ok(0),
        };
    }
}
