//! The card reader DEVICE, played on a std thread at the master end of a pty.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::emv::VirtualBankCard;
use super::passport::VirtualPassport;
use crate::card_reader::frame::{
    Control, Decoded, Frame, FrameDecoder, CMT_COMMAND, CMT_NEGATIVE, CMT_POSITIVE,
};
use crate::pty_device::{self, open_raw_pty, DeviceLine, LineDevice, Pacing, PtyError};

/// Reply resends on NAK, as the protocol allows.
const MAX_REPLY_RESENDS: u32 = 3;
/// How long the device waits for the host's ACK of a reply before forgetting it.
const REPLY_ACK_WAIT: Duration = Duration::from_millis(500);
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
    /// This many first reply frames lose one byte in their middle.
    pub drop_byte_in_first_replies: u32,
    /// This many first command frames get no answer at all: no ACK, no NAK, no reply.
    pub silent_first_commands: u32,
    /// After this many APDU exchanges the card or document is pulled away: the chip is gone.
    pub pull_out_after_apdus: Option<u32>,
    /// The APDU exchange with this number (1 = first) fails with a chip timeout (`63`).
    pub chip_timeout_at_apdu: Option<u32>,
    /// After this many commands the reader is unplugged for the given time, then plugged back
    /// (at the same path: [`SimulatorHandle::port_path`] is then a symbolic link).
    pub unplug_after_commands: Option<(u32, Duration)>,
    /// The first n command frames are acknowledged only after the given time (the ACK held up
    /// past the host's 300 ms, e.g. by a busy reader or a USB adapter), so the host resends
    /// them; the reader recognises the resend and executes each command once.
    pub late_ack_first_commands: Option<(u32, Duration)>,
}

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Line speed the device is throttled to.
    pub baud: u32,
    /// The passport lying on the window with its chip in the field; `None`: nothing placed.
    pub document: Option<VirtualPassport>,
    /// A bank card inserted in the motorized slot (contact chip).
    pub inserted_card: Option<VirtualBankCard>,
    /// A bank card held on the antenna (contactless), when no passport is there.
    pub tapped_card: Option<VirtualBankCard>,
    pub firmware_version: String,
    pub retain_bin_count: u16,
    pub faults: Faults,
    /// The document imager's lights (command 0x71), shared with `imager::sim::SimulatedImager`.
    pub lights: crate::imager::sim::LightPanel,
    /// The reader has an MRZ window (OCR, command 0x70). `false`: an ordinary card reader,
    /// which answers 0x70 with error `00` (unknown command); the MRZ is then keyed in.
    pub mrz_window: bool,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            baud: 115_200,
            document: None,
            inserted_card: None,
            tapped_card: None,
            firmware_version: "KIOSK-SIM CRT571 1.0".to_owned(),
            retain_bin_count: 0,
            faults: Faults::default(),
            lights: crate::imager::sim::LightPanel::default(),
            mrz_window: true,
        }
    }
}

impl SimulatorConfig {
    pub fn with_document(document: VirtualPassport) -> Self {
        Self { document: Some(document), ..Self::default() }
    }

    pub fn with_inserted_card(card: VirtualBankCard) -> Self {
        Self { inserted_card: Some(card), ..Self::default() }
    }

    pub fn with_tapped_card(card: VirtualBankCard) -> Self {
        Self { tapped_card: Some(card), ..Self::default() }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimulatorError {
    #[error(transparent)]
    Pty(#[from] PtyError),
    #[error("could not start the card reader simulator thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("card reader simulator baud rate must be above zero")]
    BadBaud,
    #[error("could not create the card reader simulator's port link: {0}")]
    Link(#[source] std::io::Error),
}

/// What the device saw, for tests.
#[derive(Debug, Default)]
pub struct SimulatorStats {
    pub commands: AtomicU32,
    pub naks_sent: AtomicU32,
    pub naks_received: AtomicU32,
    pub cancelled: AtomicU32,
    /// Bytes that crossed the line, each way (for the line-limit figure of the benchmark).
    pub bytes_from_host: AtomicU64,
    pub bytes_to_host: AtomicU64,
    /// Times the reader was unplugged and plugged back.
    pub replugs: AtomicU32,
    /// APDU exchanges (0x51 0x39, 0x60 0x33) executed, each once however often it was sent.
    pub apdus_executed: AtomicU32,
    /// Command frames recognised as the host's resend of the command in progress (not executed).
    pub resends_recognised: AtomicU32,
    /// APDUs sent in the extended-length form (a `00` byte after the header, then two-byte Lc or Le).
    pub extended_apdus: AtomicU32,
}

/// What a person does at the reader's window while the device runs.
#[derive(Debug)]
enum TrayChange {
    Place(Box<VirtualPassport>),
    TakeAway,
}

/// The reader's document window, as the person in front of it uses it: a passport laid on it
/// (MRZ under the imager, chip in the field) or taken away, at any time while the device runs.
/// Cloneable, so a scripted person can hold it while the handle stays with the reader.
#[derive(Debug, Clone)]
pub struct DocumentTray(Sender<TrayChange>);

impl DocumentTray {
    /// Lays `passport` on the window (replacing one already there); the next command sees it.
    pub fn place(&self, passport: VirtualPassport) {
        // A stopped device has no window: nothing to place the passport on.
        let _ = self.0.send(TrayChange::Place(Box::new(passport)));
    }

    /// Takes the passport away from the window (nothing happens if none is there).
    pub fn take_away(&self) {
        let _ = self.0.send(TrayChange::TakeAway);
    }
}

/// A running simulator; stops and joins its thread on drop.
pub struct SimulatorHandle {
    port_path: String,
    tray: DocumentTray,
    /// Folder of the stable symbolic link, removed on drop.
    link_dir: Option<std::path::PathBuf>,
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

    /// The same counters, for a test's helper that outlives a borrow of the handle.
    pub fn shared_stats(&self) -> Arc<SimulatorStats> {
        Arc::clone(&self.stats)
    }

    /// The document window, to place a passport on it (or take it away) after the start.
    pub fn tray(&self) -> DocumentTray {
        self.tray.clone()
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
        if let Some(dir) = self.link_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
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
    // A reader that will be unplugged needs a path that outlives one pty, as a udev name does.
    let (port_path, link_dir, link) = if config.faults.unplug_after_commands.is_some() {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kiosk-card-sim-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(SimulatorError::Link)?;
        let link = dir.join("ttyCRT");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&pty.slave_path, &link).map_err(SimulatorError::Link)?;
        (link.to_string_lossy().into_owned(), Some(dir), Some(link))
    } else {
        (pty.slave_path.to_string_lossy().into_owned(), None, None)
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SimulatorStats::default());
    let (tray, tray_changes) = channel();
    // Replies go out at line speed, in chunks, as the reader's UART sends them.
    let pacing = Pacing { baud: config.baud, write_chunk: Some(WRITE_CHUNK), write_stall: WRITE_STALL };
    let mut device = Device {
        tray: tray_changes,
        line: DeviceLine::new(pty, pacing, Arc::clone(&stop)),
        decoder: FrameDecoder::new(),
        config,
        stats: Arc::clone(&stats),
        link,
        field_active: false,
        contact_powered: false,
        apdus: 0,
        in_progress: None,
        awaiting_ack: None,
        ack_due: None,
        current: None,
    };
    let thread = std::thread::Builder::new()
        .name("card-reader-sim".to_owned())
        .spawn(move || pty_device::run(&mut device))
        .map_err(SimulatorError::Thread)?;
    tracing::debug!(port = %port_path, "card reader simulator started");
    Ok(SimulatorHandle { port_path, tray: DocumentTray(tray), link_dir, stop, stats, thread: Some(thread) })
}

/// A reply waiting for the host's ACK.
struct SentReply {
    bytes: Vec<u8>,
    resends: u32,
    sent_at: Instant,
}

struct Device {
    line: DeviceLine,
    /// Passports placed on the window or taken away by the person.
    tray: Receiver<TrayChange>,
    /// The stable port path, when the reader may be unplugged.
    link: Option<std::path::PathBuf>,
    contact_powered: bool,
    /// APDU exchanges so far.
    apdus: u32,
    decoder: FrameDecoder,
    config: SimulatorConfig,
    stats: Arc<SimulatorStats>,
    field_active: bool,
    /// Reply being "worked on", due at the instant.
    in_progress: Option<(Instant, Frame)>,
    awaiting_ack: Option<SentReply>,
    /// A held-up ACK of the command in progress, due at the instant (`Faults::late_ack_first_commands`).
    ack_due: Option<Instant>,
    /// The command accepted last, until its reply is acknowledged (ACK), cancelled (EOT) or
    /// forgotten: the same frame arriving meanwhile is the host's resend, not a new command.
    current: Option<Frame>,
}

impl LineDevice for Device {
    const NAME: &'static str = "card reader";

    fn line(&mut self) -> &mut DeviceLine {
        &mut self.line
    }

    fn received(&mut self, bytes: &[u8]) {
        self.stats.bytes_from_host.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.decoder.push(bytes);
    }

    fn turn(&mut self) {
        self.on_tray();
        while let Some(event) = self.decoder.next_event() {
            self.on_event(event);
        }
        self.on_tick();
    }
}

impl Device {
    fn on_event(&mut self, event: Result<Decoded, crate::card_reader::frame::FrameError>) {
        match event {
            Err(error) => {
                tracing::debug!(%error, "simulator got a damaged frame, NAK");
                // The host resends the whole frame: the rest of this one is useless.
                self.decoder.reset();
                self.nak();
            }
            Ok(Decoded::Control(Control::Ack)) => {
                if self.awaiting_ack.take().is_some() {
                    self.current = None;
                }
            }
            Ok(Decoded::Control(Control::Nak)) => {
                self.stats.naks_received.fetch_add(1, Ordering::Relaxed);
                self.resend_reply();
            }
            Ok(Decoded::Control(Control::Eot)) => {
                if self.in_progress.take().is_some() {
                    self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
                }
                self.awaiting_ack = None;
                self.ack_due = None;
                self.current = None;
            }
            Ok(Decoded::Frame(frame)) => self.on_frame(frame),
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        if frame.cmt != CMT_COMMAND {
            self.nak();
            return;
        }
        let open = self.in_progress.is_some() || self.awaiting_ack.is_some();
        if open && self.current.as_ref() == Some(&frame) {
            self.on_resend();
            return;
        }
        // A new command means the host got the previous reply.
        self.awaiting_ack = None;
        self.current = None;
        if self.config.faults.silent_first_commands > 0 {
            self.config.faults.silent_first_commands -= 1;
            return;
        }
        if self.config.faults.nak_first_commands > 0 {
            self.config.faults.nak_first_commands -= 1;
            self.nak();
            return;
        }
        if let Some((after, down)) = self.config.faults.unplug_after_commands {
            if self.stats.commands.load(Ordering::Relaxed) >= after {
                self.config.faults.unplug_after_commands = None;
                self.unplug(down);
                return;
            }
        }
        let mut acked_at = Instant::now();
        match &mut self.config.faults.late_ack_first_commands {
            Some((n, delay)) if *n > 0 => {
                *n -= 1;
                acked_at += *delay;
                self.ack_due = Some(acked_at);
            }
            _ => self.write(&[Control::Ack.byte()]),
        }
        self.stats.commands.fetch_add(1, Ordering::Relaxed);
        let reply = self.execute(&frame);
        self.in_progress = Some((acked_at + self.config.faults.reply_delay, reply));
        self.current = Some(frame);
    }

    /// The host sent the command in progress again (our ACK was late or lost): it is not
    /// executed twice. Before the reply is out the frame is acknowledged again (unless the
    /// held-up ACK is still to come); once the reply is out, that reply answers both sends.
    fn on_resend(&mut self) {
        self.stats.resends_recognised.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("simulator got the command in progress again: a resend, not executed");
        if self.in_progress.is_some() && self.ack_due.is_none() {
            self.write(&[Control::Ack.byte()]);
        }
    }

    /// A passport laid on the window or taken away since the last turn of the loop. Taken
    /// away, its chip leaves the field: the host must activate the next one afresh.
    fn on_tray(&mut self) {
        while let Ok(change) = self.tray.try_recv() {
            self.field_active = false;
            self.config.document = match change {
                TrayChange::Place(passport) => Some(*passport),
                TrayChange::TakeAway => None,
            };
        }
    }

    fn on_tick(&mut self) {
        if self.ack_due.is_some_and(|due| Instant::now() >= due) {
            self.ack_due = None;
            self.write(&[Control::Ack.byte()]);
        }
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
                self.current = None;
            }
        }
    }

    fn send_reply(&mut self, reply: &Frame) {
        let Ok(mut bytes) = reply.encode() else {
            tracing::error!("simulator built a reply too long to frame");
            return;
        };
        let good = bytes.clone();
        if self.config.faults.drop_byte_in_first_replies > 0 {
            self.config.faults.drop_byte_in_first_replies -= 1;
            bytes.remove(bytes.len() / 2);
        }
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
            self.current = None;
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

    /// Writes at line speed (the pacing's chunks), counting what crossed the line.
    fn write(&mut self, bytes: &[u8]) {
        let sent = self.line.write(bytes);
        self.stats.bytes_to_host.fetch_add(sent as u64, Ordering::Relaxed);
    }

    /// Pulling the cable: both ends of the pty close under the host, the port path vanishes
    /// for `down`, then a new pty appears at the same path and the reader starts afresh.
    fn unplug(&mut self, down: Duration) {
        let Some(link) = self.link.clone() else {
            return;
        };
        let fresh = match open_raw_pty() {
            Ok(fresh) => fresh,
            Err(error) => {
                tracing::warn!(%error, "simulator could not replug, stopping");
                self.line.stop();
                return;
            }
        };
        let fresh_path = fresh.slave_path.clone();
        self.line.replace(fresh);
        let _ = std::fs::remove_file(&link);
        let back = Instant::now() + down;
        while Instant::now() < back && !self.line.stopped() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Err(error) = std::os::unix::fs::symlink(&fresh_path, &link) {
            tracing::warn!(%error, "simulator could not recreate its port link");
        }
        self.decoder.reset();
        self.in_progress = None;
        self.awaiting_ack = None;
        self.ack_due = None;
        self.current = None;
        self.field_active = false;
        self.contact_powered = false;
        self.stats.replugs.fetch_add(1, Ordering::Relaxed);
    }

    /// ST0: where the bank card is (the passport lies on the window, not in the slot).
    fn st0(&self) -> u8 {
        if self.config.inserted_card.is_some() {
            b'2'
        } else {
            b'0'
        }
    }

    /// The device's answer to one command.
    fn execute(&mut self, command: &Frame) -> Frame {
        let (cm, pm) = (command.cm, command.pm);
        let st0 = self.st0();
        let ok = |data: Vec<u8>| positive(cm, pm, st0, data);
        let err = |code: &[u8; 2]| negative(cm, pm, code);
        if matches!((cm, pm), (0x60, 0x33) | (0x51, 0x39)) {
            self.apdus += 1;
            self.stats.apdus_executed.fetch_add(1, Ordering::Relaxed);
            if command.data.len() > 5 && command.data.get(4) == Some(&0) {
                self.stats.extended_apdus.fetch_add(1, Ordering::Relaxed);
            }
            if self.config.faults.pull_out_after_apdus.is_some_and(|n| self.apdus > n) {
                self.config.document = None;
                self.config.tapped_card = None;
                self.config.inserted_card = None;
                return err(if cm == 0x60 { b"70" } else { b"40" });
            }
            if self.config.faults.chip_timeout_at_apdu == Some(self.apdus) {
                return err(b"63");
            }
        }
        match (cm, pm) {
            (0x30, 0x30) => {
                // Initialise switches the imager lights off.
                self.config.lights.set(None);
                ok(Vec::new())
            }
            (0x31, 0x30) => ok(Vec::new()),
            (0x32, 0x30 | 0x31 | 0x33) if self.config.inserted_card.is_none() => err(b"40"),
            (0x32, 0x31) => ok(Vec::new()),
            (0x32, 0x30 | 0x33) => {
                // Ejected (and taken) or retained: either way the slot is empty afterwards.
                self.config.inserted_card = None;
                self.contact_powered = false;
                if pm == 0x33 {
                    self.config.retain_bin_count = self.config.retain_bin_count.saturating_add(1);
                }
                positive(cm, pm, if pm == 0x30 { b'1' } else { b'0' }, Vec::new())
            }
            (0x51, 0x30) => match &mut self.config.inserted_card {
                Some(card) => {
                    card.reset();
                    self.contact_powered = true;
                    ok(vec![0x3B, 0x68, 0x00, 0x00, 0x80, 0x66, 0xB0, 0x84, 0x01, 0x01, 0x01, 0x00])
                }
                None => err(b"40"),
            },
            (0x51, 0x31) => {
                self.contact_powered = false;
                ok(Vec::new())
            }
            (0x51, 0x39) => match (&mut self.config.inserted_card, self.contact_powered) {
                (None, _) => err(b"40"),
                (Some(_), false) => err(b"02"),
                (Some(_), true) if command.data.is_empty() => err(b"01"),
                (Some(card), true) => ok(card.process_apdu(&command.data)),
            },
            (0x60, 0x30) => {
                let uid = if let Some(passport) = &mut self.config.document {
                    passport.reset();
                    passport.uid().to_vec()
                } else if let Some(card) = &mut self.config.tapped_card {
                    card.reset();
                    vec![0x5A, 0x11, 0x22, 0x33]
                } else {
                    return err(b"70");
                };
                self.field_active = true;
                let mut data = vec![b'A'];
                data.extend(uid);
                ok(data)
            }
            (0x60, 0x31) => {
                self.field_active = false;
                ok(Vec::new())
            }
            (0x60, 0x33) => {
                if !self.field_active {
                    return if self.config.document.is_none() && self.config.tapped_card.is_none() {
                        err(b"70")
                    } else {
                        err(b"02")
                    };
                }
                if command.data.is_empty() {
                    return err(b"01");
                }
                if let Some(passport) = &mut self.config.document {
                    let answer = passport.process_apdu(&command.data);
                    if answer.is_empty() {
                        // The chip left the field: the reader must activate it again.
                        self.field_active = false;
                        return err(b"71");
                    }
                    ok(answer)
                } else if let Some(card) = &mut self.config.tapped_card {
                    ok(card.process_apdu(&command.data))
                } else {
                    err(b"70")
                }
            }
            (0x70, _) if !self.config.mrz_window => err(b"00"),
            (0x70, 0x30) => match &self.config.document {
                Some(passport) => ok(passport.mrz_lines().join("\r").into_bytes()),
                None => err(b"80"),
            },
            (0x71, pm) => match crate::imager::Light::from_parameter(pm) {
                Ok(light) => {
                    self.config.lights.set(light);
                    ok(Vec::new())
                }
                Err(_) => err(b"01"),
            },
            (0xA4, 0x30) => ok(self.config.firmware_version.clone().into_bytes()),
            (0xA5, 0x30) => ok(self.config.retain_bin_count.to_be_bytes().to_vec()),
            (0x30 | 0x31 | 0x32 | 0x51 | 0x60 | 0x70 | 0xA4 | 0xA5, _) => err(b"01"),
            _ => err(b"00"),
        }
    }
}

/// `P CM PM ST0 ST1 ST2 DATA`.
fn positive(cm: u8, pm: u8, st0: u8, data: Vec<u8>) -> Frame {
    let mut body = vec![st0, b'0', b'0'];
    body.extend(data);
    Frame { cmt: CMT_POSITIVE, cm, pm, data: body }
}
fn negative(cm: u8, pm: u8, code: &[u8; 2]) -> Frame {
    Frame { cmt: CMT_NEGATIVE, cm, pm, data: code.to_vec() }
}
