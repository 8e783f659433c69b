//! The receipt printer DEVICE, played on a std thread at the master end of a pty (the device
//! loop of [`crate::pty_device`], as the card reader simulator's): it decodes the ESC/POS it
//! receives ([`decoder`]) into lines and QR payloads, one [`PrintedReceipt`] per cut, and answers `DLE EOT n` from its state —
//! paper level, cover, error — which tests change while it runs.
//!
//! ```no_run
//! use kiosk_hal::printer::{sim::{SimulatedPrinter, PrinterSimConfig}, Printer, Receipt};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut printer = SimulatedPrinter::spawn(PrinterSimConfig::default(), 32)?;
//! let log = printer.log();
//! printer.print(&Receipt::new().title("Счёт открыт").qr("KA1…"))?;
//! assert_eq!(log.receipts()[0].qr_payloads(), ["KA1…"]);
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub mod decoder;

use super::escpos::{self, Printed};
use super::{EscPosPrinter, Printer, PrinterError, PrinterStatus, Receipt};
use crate::pty_device::{self, open_raw_pty, DeviceLine, LineDevice, Pacing};
use decoder::{DecodeError, Decoder, Event};

/// A status answer nobody reads for this long is dropped.
const WRITE_STALL: Duration = Duration::from_secs(1);
/// The printer's base status byte (fixed bits only).
const BASE: u8 = 0x12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaperLevel {
    #[default]
    Full,
    /// The near-end sensor sees the roll's core.
    Low,
    Out,
}

/// The printer's state as the status requests see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterFaults {
    pub paper: PaperLevel,
    pub cover_open: bool,
    /// A mechanical error (cutter jam, head overheated): offline.
    pub error: bool,
    /// Powered off or cable cut: nothing is answered, nothing printed.
    pub silent: bool,
}

impl PrinterFaults {
    /// Whether paper comes out (otherwise what arrives is lost, as on a stopped printer).
    fn prints(&self) -> bool {
        !self.silent && !self.cover_open && !self.error && self.paper != PaperLevel::Out
    }

    /// The answer to `DLE EOT n`, `None` when the printer says nothing.
    fn answer(&self, n: u8) -> Option<u8> {
        if self.silent {
            return None;
        }
        let paper_out = self.paper == PaperLevel::Out;
        let offline = self.cover_open || paper_out || self.error;
        let bits = match n {
            1 => {
                if offline {
                    escpos::STATUS_OFFLINE
                } else {
                    0
                }
            }
            2 => {
                (if self.cover_open { escpos::CAUSE_COVER_OPEN } else { 0 })
                    | (if paper_out { escpos::CAUSE_PAPER_END } else { 0 })
                    | (if self.error { escpos::CAUSE_ERROR } else { 0 })
            }
            3 => {
                if self.error {
                    0x08
                } else {
                    0
                }
            }
            4 => match self.paper {
                PaperLevel::Full => 0,
                PaperLevel::Low => escpos::PAPER_NEAR_END,
                PaperLevel::Out => escpos::PAPER_NEAR_END | escpos::PAPER_END,
            },
            _ => return None,
        };
        Some(BASE | bits)
    }
}

#[derive(Debug, Clone)]
pub struct PrinterSimConfig {
    /// Line speed the device is throttled to.
    pub baud: u32,
    pub faults: PrinterFaults,
}

impl Default for PrinterSimConfig {
    fn default() -> Self {
        Self { baud: 115_200, faults: PrinterFaults::default() }
    }
}

/// What came out between two cuts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrintedReceipt {
    pub items: Vec<Printed>,
}

impl PrintedReceipt {
    /// The text lines, in order.
    pub fn lines(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|p| match p {
                Printed::Line(line) => Some(line.text.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn qr_payloads(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|p| match p {
                Printed::Qr(payload) => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }

    /// The receipt as a person would read it: text lines (centred ones centred), `[QR: …]`.
    pub fn text(&self, columns: u16) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Printed::Line(line) => {
                    let width = if line.double { usize::from(columns) / 2 } else { usize::from(columns) };
                    let len = line.text.chars().count();
                    let pad = match line.align {
                        escpos::Align::Left => 0,
                        escpos::Align::Center => width.saturating_sub(len) / 2,
                        escpos::Align::Right => width.saturating_sub(len),
                    };
                    let text = if line.double { line.text.to_uppercase() } else { line.text.clone() };
                    out.push_str(&format!("{}{}\n", " ".repeat(pad), text).replace('\u{A0}', " "));
                }
                Printed::Qr(payload) => out.push_str(&format!("[QR: {payload}]\n")),
                Printed::Cut => {}
            }
        }
        out
    }
}

#[derive(Debug, Default)]
struct State {
    faults: PrinterFaults,
    receipts: Vec<PrintedReceipt>,
    /// Printed since the last cut.
    current: Vec<Printed>,
    decode_errors: Vec<String>,
    status_requests: u32,
}

/// The simulator's output and controls; clones share them, so a test keeps one while the
/// session owns the printer.
#[derive(Debug, Clone, Default)]
pub struct PrintLog(Arc<Mutex<State>>);

impl PrintLog {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Receipts printed and cut so far.
    pub fn receipts(&self) -> Vec<PrintedReceipt> {
        self.state().receipts.clone()
    }

    /// Every receipt as text, separated by a cut line.
    pub fn transcript(&self, columns: u16) -> String {
        self.receipts()
            .iter()
            .map(|r| format!("{}{}\n", r.text(columns), "✂".repeat(usize::from(columns))))
            .collect()
    }

    /// Changes the printer's state (open the cover, run out of paper) while it runs.
    pub fn set_faults(&self, faults: PrinterFaults) {
        self.state().faults = faults;
    }

    pub fn faults(&self) -> PrinterFaults {
        self.state().faults
    }

    /// What the decoder could not understand (a correct host sends nothing of the kind).
    pub fn decode_errors(&self) -> Vec<String> {
        self.state().decode_errors.clone()
    }

    pub fn status_requests(&self) -> u32 {
        self.state().status_requests
    }
}

/// A running simulator; stops and joins its thread on drop.
pub struct PrinterSimHandle {
    port_path: String,
    log: PrintLog,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrinterSimHandle {
    /// The pty slave to open like the printer's serial port, e.g. `/dev/pts/4`.
    pub fn port_path(&self) -> &str {
        &self.port_path
    }

    pub fn log(&self) -> PrintLog {
        self.log.clone()
    }
}

impl Drop for PrinterSimHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("printer simulator thread panicked");
            }
        }
    }
}

/// Starts the printer on a fresh pty.
pub fn spawn(config: PrinterSimConfig) -> Result<PrinterSimHandle, PrinterError> {
    if config.baud == 0 {
        return Err(PrinterError::Simulator("baud rate must be above zero".into()));
    }
    let pty = open_raw_pty().map_err(|e| PrinterError::Simulator(e.to_string()))?;
    let port_path = pty.slave_path.to_string_lossy().into_owned();
    let log = PrintLog::default();
    log.set_faults(config.faults);
    let stop = Arc::new(AtomicBool::new(false));
    // The host's bytes take their time on the line; the one-byte status answers go out at once.
    let pacing = Pacing { baud: config.baud, write_chunk: None, write_stall: WRITE_STALL };
    let mut device = Device {
        line: DeviceLine::new(pty, pacing, Arc::clone(&stop)),
        decoder: Decoder::new(),
        log: log.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("printer-sim".to_owned())
        .spawn(move || pty_device::run(&mut device))
        .map_err(|e| PrinterError::Simulator(format!("could not start its thread: {e}")))?;
    tracing::debug!(port = %port_path, "printer simulator started");
    Ok(PrinterSimHandle { port_path, log, stop, thread: Some(thread) })
}

struct Device {
    line: DeviceLine,
    decoder: Decoder,
    log: PrintLog,
}

impl LineDevice for Device {
    const NAME: &'static str = "printer";

    fn line(&mut self) -> &mut DeviceLine {
        &mut self.line
    }

    fn received(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    fn turn(&mut self) {
        while let Some(event) = self.decoder.next_event() {
            self.on_event(event);
        }
    }
}

impl Device {
    fn on_event(&mut self, event: Result<Event, DecodeError>) {
        let answer = {
            let mut state = self.log.state();
            match event {
                Err(error) => {
                    state.decode_errors.push(error.to_string());
                    None
                }
                Ok(Event::StatusRequest(n)) => {
                    state.status_requests += 1;
                    state.faults.answer(n)
                }
                Ok(Event::Printed(printed)) => {
                    if !state.faults.prints() {
                        // A stopped printer: what was sent is lost.
                        state.current.clear();
                    } else if printed == Printed::Cut {
                        let items = std::mem::take(&mut state.current);
                        state.receipts.push(PrintedReceipt { items });
                    } else {
                        state.current.push(printed);
                    }
                    None
                }
            }
        };
        if let Some(byte) = answer {
            self.line.write(&[byte]);
        }
    }
}

/// The simulated printer as the kiosk uses it: [`EscPosPrinter`] on the simulator's pty.
pub struct SimulatedPrinter {
    // Declared first: dropped before the device it talks to.
    printer: EscPosPrinter,
    sim: PrinterSimHandle,
}

impl SimulatedPrinter {
    pub fn spawn(config: PrinterSimConfig, columns: u16) -> Result<Self, PrinterError> {
        let baud = config.baud;
        let sim = spawn(config)?;
        let printer = EscPosPrinter::open(sim.port_path(), baud, columns)?;
        Ok(Self { printer, sim })
    }

    /// What came out of the printer, and its fault controls.
    pub fn log(&self) -> PrintLog {
        self.sim.log()
    }

    pub fn with_status_timeout(mut self, timeout: Duration) -> Self {
        self.printer = self.printer.with_status_timeout(timeout);
        self
    }
}

impl Printer for SimulatedPrinter {
    fn status(&mut self) -> Result<PrinterStatus, PrinterError> {
        self.printer.status()
    }

    fn print(&mut self, receipt: &Receipt) -> Result<(), PrinterError> {
        self.printer.print(receipt)
    }
}
