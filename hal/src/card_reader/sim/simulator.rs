//! The card reader DEVICE, played on a std thread at the master end of a pty.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::passport::VirtualPassport;
use super::pty::{open_raw_pty, PtyError};
use crate::card_reader::frame::{
    Control, Decoded, Frame, FrameDecoder, CMT_COMMAND, CMT_NEGATIVE, CMT_POSITIVE,
};

/// Reply resends on NAK, as the protocol allows.
const MAX_REPLY_RESENDS: u32 = 3;
/// How long the device waits for the host's ACK of a reply before forgetting it.
const REPLY_ACK_WAIT: Duration = Duration::from_millis(500);
/// Idle poll period of the device loop.
const IDLE_POLL: Duration = Duration::from_millis(1);
/// Bytes written between two throttling sleeps.
const WRITE_CHUNK: usize = 64;
/// A write making no progress this long (nobody reads the port) is abandoned.
const WRITE_STALL: Duration = Duration::from_secs(2);

/// Deliberate misbehaviour, to test the host's recovery.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Sent before every reply frame.
    pub garbage_before_reply: Vec<u8>,
    /// This many first good command frames are answered NAK as if damaged.
    pub nak_first_commands: u32,
    /// This many first reply frames go out with a wrong BCC.
    pub corrupt_first_replies: u32,
    /// Time the device "works" on each command before replying (EOT cancels it).
    pub reply_delay: Duration,
}

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Line speed the device is throttled to.
    pub baud: u32,
    /// The passport lying on the window with its chip in the field; `None`: nothing placed.
    pub document: Option<VirtualPassport>,
    pub firmware_version: String,
    pub retain_bin_count: u16,
    pub faults: Faults,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            baud: 115_200,
            document: None,
            firmware_version: "KIOSK-SIM CRT571 1.0".to_owned(),
            retain_bin_count: 0,
            faults: Faults::default(),
        }
    }
}

impl SimulatorConfig {
    pub fn with_document(document: VirtualPassport) -> Self {
        Self { document: Some(document), ..Self::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error(transparent)]
    Pty(#[from] PtyError),
    #[error("could not start the card reader simulator thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("card reader simulator baud rate must be above zero")]
    BadBaud,
}

/// What the device saw, for tests.
#[derive(Debug, Default)]
pub struct SimulatorStats {
    pub commands: AtomicU32,
    pub naks_sent: AtomicU32,
    pub naks_received: AtomicU32,
    pub cancelled: AtomicU32,
}

/// A running simulator; stops and joins its thread on drop.
pub struct SimulatorHandle {
    port_path: String,
    stop: Arc<AtomicBool>,
    stats: Arc<SimulatorStats>,
    thread: Option<JoinHandle<()>>,
}

impl SimulatorHandle {
    /// The pty slave to open like a serial port, e.g. `/dev/pts/3`.
    pub fn port_path(&self) -> &str {
        &self.port_path
    }

    pub fn stats(&self) -> &SimulatorStats {
        &self.stats
    }

    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("card reader simulator thread panicked");
            }
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Starts the device on a fresh pty.
pub fn spawn(config: SimulatorConfig) -> Result<SimulatorHandle, SimulatorError> {
    if config.baud == 0 {
        return Err(SimulatorError::BadBaud);
    }
    let pty = open_raw_pty()?;
    let port_path = pty.slave_path.to_string_lossy().into_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SimulatorStats::default());
    let mut device = Device {
        master: pty.master,
        decoder: FrameDecoder::new(),
        config,
        stop: Arc::clone(&stop),
        stats: Arc::clone(&stats),
        field_active: false,
        in_progress: None,
        awaiting_ack: None,
    };
    let slave = pty.slave;
    let thread = std::thread::Builder::new()
        .name("card-reader-sim".to_owned())
        .spawn(move || {
            // Held for the thread's life: the pty dies when its last slave fd closes.
            let _slave = slave;
            device.run();
        })
        .map_err(SimulatorError::Thread)?;
    tracing::debug!(port = %port_path, "card reader simulator started");
    Ok(SimulatorHandle { port_path, stop, stats, thread: Some(thread) })
}

/// A reply waiting for the host's ACK.
struct SentReply {
    bytes: Vec<u8>,
    resends: u32,
    sent_at: Instant,
}

struct Device {
    master: File,
    decoder: FrameDecoder,
    config: SimulatorConfig,
    stop: Arc<AtomicBool>,
    stats: Arc<SimulatorStats>,
    field_active: bool,
    /// Reply being "worked on", due at the instant.
    in_progress: Option<(Instant, Frame)>,
    awaiting_ack: Option<SentReply>,
}

impl Device {
    fn run(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.stop.load(Ordering::Relaxed) {
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => {
                    let got = buf.get(..n).unwrap_or_default();
                    self.throttle(got.len());
                    self.decoder.push(got);
                }
                Ok(_) => std::thread::sleep(IDLE_POLL),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                    std::thread::sleep(IDLE_POLL);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "card reader simulator line failed, stopping");
                    return;
                }
            }
            while let Some(event) = self.decoder.next_event() {
                self.on_event(event);
            }
            self.on_tick();
        }
    }

    fn on_event(&mut self, event: Result<Decoded, crate::card_reader::frame::FrameError>) {
        match event {
            Err(error) => {
                tracing::debug!(%error, "simulator got a damaged frame, NAK");
                // The host resends the whole frame: the rest of this one is useless.
                self.decoder.reset();
                self.nak();
            }
            Ok(Decoded::Control(Control::Ack)) => self.awaiting_ack = None,
            Ok(Decoded::Control(Control::Nak)) => {
                self.stats.naks_received.fetch_add(1, Ordering::Relaxed);
                self.resend_reply();
            }
            Ok(Decoded::Control(Control::Eot)) => {
                if self.in_progress.take().is_some() {
                    self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                self.awaiting_ack = None;
            }
            Ok(Decoded::Frame(frame)) => self.on_frame(frame),
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        // A new command means the host got the previous reply.
        self.awaiting_ack = None;
        if frame.cmt != CMT_COMMAND {
            self.nak();
            return;
        }
        if self.config.faults.nak_first_commands > 0 {
            self.config.faults.nak_first_commands -= 1;
            self.nak();
            return;
        }
        self.write(&[Control::Ack.byte()]);
        self.stats.commands.fetch_add(1, Ordering::Relaxed);
        let reply = self.execute(&frame);
        self.in_progress = Some((Instant::now() + self.config.faults.reply_delay, reply));
    }

    fn on_tick(&mut self) {
        if let Some((due, _)) = &self.in_progress {
            if Instant::now() >= *due {
                if let Some((_, reply)) = self.in_progress.take() {
                    self.send_reply(&reply);
                }
            }
        }
        if let Some(sent) = &self.awaiting_ack {
            if sent.sent_at.elapsed() > REPLY_ACK_WAIT {
                tracing::debug!("host did not acknowledge the reply");
                self.awaiting_ack = None;
            }
        }
    }

    fn send_reply(&mut self, reply: &Frame) {
        let Ok(mut bytes) = reply.encode() else {
            tracing::error!("simulator built a reply too long to frame");
            return;
        };
        let good = bytes.clone();
        if self.config.faults.corrupt_first_replies > 0 {
            self.config.faults.corrupt_first_replies -= 1;
            if let Some(last) = bytes.last_mut() {
                *last ^= 0x5A;
            }
        }
        let garbage = self.config.faults.garbage_before_reply.clone();
        if !garbage.is_empty() {
            self.write(&garbage);
        }
        self.write(&bytes);
        self.awaiting_ack = Some(SentReply { bytes: good, resends: 0, sent_at: Instant::now() });
    }

    fn resend_reply(&mut self) {
        let Some(mut sent) = self.awaiting_ack.take() else {
            return;
        };
        if sent.resends >= MAX_REPLY_RESENDS {
            tracing::debug!("reply NAKed too often, giving up");
            return;
        }
        sent.resends += 1;
        sent.sent_at = Instant::now();
        let bytes = sent.bytes.clone();
        self.write(&bytes);
        self.awaiting_ack = Some(sent);
    }

    fn nak(&mut self) {
        self.stats.naks_sent.fetch_add(1, Ordering::Relaxed);
        self.write(&[Control::Nak.byte()]);
    }

    /// Time the bytes would take on the line: 10 bits each (8N1).
    fn throttle(&self, bytes: usize) {
        let micros = (bytes as u64).saturating_mul(10_000_000) / u64::from(self.config.baud.max(1));
        std::thread::sleep(Duration::from_micros(micros));
    }

    /// Writes at line speed; the master is non-blocking, so a full pty buffer is waited out.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(WRITE_CHUNK) {
            let mut rest = chunk;
            let mut last_progress = Instant::now();
            while !rest.is_empty() {
                if self.stop.load(Ordering::Relaxed) || last_progress.elapsed() > WRITE_STALL {
                    tracing::debug!("simulator write abandoned: nobody reads the port");
                    return;
                }
                match self.master.write(rest) {
                    Ok(n) => {
                        rest = rest.get(n..).unwrap_or_default();
                        last_progress = Instant::now();
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                        std::thread::sleep(IDLE_POLL);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "simulator write failed");
                        return;
                    }
                }
            }
            self.throttle(chunk.len());
        }
    }

    /// The device's answer to one command.
    fn execute(&mut self, command: &Frame) -> Frame {
        let (cm, pm) = (command.cm, command.pm);
        let ok = |data: Vec<u8>| positive(cm, pm, data);
        let err = |code: &[u8; 2]| negative(cm, pm, code);
        match (cm, pm) {
            (0x30, 0x30) | (0x31, 0x30) => ok(Vec::new()),
            // No bank card is ever inserted in this simulator.
            (0x32, 0x30 | 0x31 | 0x33) | (0x51, 0x30 | 0x31 | 0x39) => err(b"40"),
            (0x60, 0x30) => match &mut self.config.document {
                Some(passport) => {
                    passport.reset();
                    self.field_active = true;
                    let mut data = vec![b'A'];
                    data.extend_from_slice(passport.uid());
                    ok(data)
                }
                None => err(b"70"),
            },
            (0x60, 0x31) => {
                self.field_active = false;
                ok(Vec::new())
            }
            (0x60, 0x33) => match (&mut self.config.document, self.field_active) {
                (None, _) => err(b"70"),
                (Some(_), false) => err(b"02"),
                (Some(_), true) if command.data.is_empty() => err(b"01"),
                (Some(passport), true) => ok(passport.process_apdu(&command.data)),
            },
            (0x70, 0x30) => match &self.config.document {
                Some(passport) => ok(passport.mrz_lines().join("\r").into_bytes()),
                None => err(b"80"),
            },
            (0xA4, 0x30) => ok(self.config.firmware_version.clone().into_bytes()),
            (0xA5, 0x30) => ok(self.config.retain_bin_count.to_be_bytes().to_vec()),
            (0x30 | 0x31 | 0x32 | 0x51 | 0x60 | 0x70 | 0xA4 | 0xA5, _) => err(b"01"),
            _ => err(b"00"),
        }
    }
}

/// `P CM PM ST0 ST1 ST2 DATA`, the card slot always empty.
fn positive(cm: u8, pm: u8, data: Vec<u8>) -> Frame {
    let mut body = vec![b'0', b'0', b'0'];
    body.extend(data);
    Frame { cmt: CMT_POSITIVE, cm, pm, data: body }
}

fn negative(cm: u8, pm: u8, code: &[u8; 2]) -> Frame {
    Frame { cmt: CMT_NEGATIVE, cm, pm, data: code.to_vec() }
}
