//! Host side of the card reader protocol over a serial line.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use serialport::{ClearBuffer, SerialPort};

use crate::serial_line::{open_8n1, READ_SLICE};

use super::frame::{Control, Decoded, Frame, FrameDecoder, FrameError, CMT_NEGATIVE, CMT_POSITIVE};
use super::{
    CardPosition, CardReader, CardReaderError, ChipInterface, ContactlessCard, DeviceErrorKind, ReaderStatus,
};

/// Sends of one command frame before giving up, first one included.
const MAX_SENDS: u32 = 3;
/// Damaged replies tolerated (each answered by NAK) before giving up.
const MAX_BAD_REPLIES: u32 = 3;
/// How long one read blocks; short so deadlines are kept precisely.
/// Reply timeout used while dropping the driver, so shutdown never hangs long.
const DROP_REPLY_TIMEOUT: Duration = Duration::from_secs(1);
/// A frame whose bytes stop arriving for this long (at least; see `inter_byte_timeout`) lost
/// bytes on the line: it is NAKed so the device sends it again. Generous: a USB adapter's
/// latency timer, a busy kiosk or an emulated guest (the HIL's TCG under load stalled a reply
/// for more than 50 ms, and NAKing a reply that is still coming costs the whole exchange).
const MIN_INTER_BYTE: Duration = Duration::from_millis(250);

/// The protocol's waiting times; shortened in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the ACK of a command frame.
    pub ack: Duration,
    /// For the reply of an ordinary command.
    pub reply: Duration,
    /// For the reply of card movement and APDU exchange.
    pub long_reply: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            ack: Duration::from_millis(300),
            reply: Duration::from_secs(5),
            long_reply: Duration::from_secs(15),
        }
    }
}

/// Payload of a positive reply.
struct Positive {
    status: ReaderStatus,
    data: Vec<u8>,
}

enum AckWait {
    Acked,
    Nak,
    Silence,
    /// The reply came although its ACK was lost.
    Reply(Frame),
}

/// [`CardReader`] speaking the serial protocol to a real reader (or the simulator on a pty).
pub struct SerialCardReader {
    /// `None` while the reader is unplugged.
    port: Option<Box<dyn SerialPort>>,
    /// Where to reopen the port after an unplug; `None` for a port handed in by the caller.
    path: Option<String>,
    baud: u32,
    decoder: FrameDecoder,
    timeouts: Timeouts,
    /// When the last byte arrived, to notice a frame cut short.
    last_byte: Instant,
    contact_powered: bool,
    contactless_active: bool,
}

impl SerialCardReader {
    /// Opens `path` (e.g. `/dev/ttyS0`) at `baud`, 8N1, no flow control.
    /// Modem lines are not touched: they do not exist on every port (nor on a pty).
    /// When the port later fails (reader unplugged), the driver reopens `path` and
    /// re-initialises the reader on the next command (see [`CardReaderError::Reconnected`]).
    pub fn open(path: &str, baud: u32) -> Result<Self, CardReaderError> {
        let port = open_port(path, baud)?;
        tracing::info!(port = path, baud, "card reader port opened");
        let mut reader = Self::from_port(port);
        reader.path = Some(path.to_owned());
        reader.baud = baud;
        Ok(reader)
    }

    /// Wraps an already opened port; its read timeout should be short (tens of ms).
    /// Such a reader cannot reopen its port after an unplug.
    pub fn from_port(port: Box<dyn SerialPort>) -> Self {
        let baud = port.baud_rate().unwrap_or(9600);
        Self {
            port: Some(port),
            path: None,
            baud,
            decoder: FrameDecoder::new(),
            timeouts: Timeouts::default(),
            last_byte: Instant::now(),
            contact_powered: false,
            contactless_active: false,
        }
    }

    /// True while the port is open (false between an unplug and a successful reopen).
    pub fn is_connected(&self) -> bool {
        self.port.is_some()
    }

    /// Time for 30 characters at the line speed, at least [`MIN_INTER_BYTE`].
    fn inter_byte_timeout(&self) -> Duration {
        let line = Duration::from_micros(300_000_000 / u64::from(self.baud.max(1)));
        line.max(MIN_INTER_BYTE)
    }

    /// After an unplug: reopens the port and re-initialises the reader. Succeeding still
    /// fails the command with [`CardReaderError::Reconnected`]: the card session is lost.
    fn ensure_connected(&mut self) -> Result<(), CardReaderError> {
        if self.port.is_some() {
            return Ok(());
        }
        let Some(path) = self.path.clone() else {
            return Err(CardReaderError::Disconnected { port: "(handed-in port)".to_owned() });
        };
        let port = open_port(&path, self.baud).map_err(|_| CardReaderError::Disconnected { port: path.clone() })?;
        self.port = Some(port);
        self.decoder.reset();
        if let Err(error) = self.exchange(0x30, 0x30, Vec::new(), false) {
            tracing::warn!(%error, port = %path, "card reader reopened but did not initialise");
            self.port = None;
            return Err(CardReaderError::Disconnected { port: path });
        }
        tracing::info!(port = %path, "card reader plugged back and re-initialised");
        Err(CardReaderError::Reconnected)
    }

    /// The line failed: forget the port (and the chip states it held) until it can be reopened.
    fn disconnect(&mut self, error: &std::io::Error) {
        tracing::warn!(%error, "card reader line failed: the reader may have been unplugged");
        self.port = None;
        self.contact_powered = false;
        self.contactless_active = false;
    }

    fn port(&mut self) -> Result<&mut Box<dyn SerialPort>, CardReaderError> {
        self.port.as_mut().ok_or_else(|| CardReaderError::Disconnected {
            port: self.path.clone().unwrap_or_default(),
        })
    }

    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// One command, reopening the port first if the reader was unplugged.
    fn command(&mut self, cm: u8, pm: u8, data: Vec<u8>, long: bool) -> Result<Positive, CardReaderError> {
        self.ensure_connected()?;
        match self.exchange(cm, pm, data, long) {
            Err(CardReaderError::Io(error)) => {
                self.disconnect(&error);
                Err(CardReaderError::Io(error))
            }
            other => other,
        }
    }

    /// One whole exchange: command, ACK (with resends), reply, our ACK/NAK.
    fn exchange(&mut self, cm: u8, pm: u8, data: Vec<u8>, long: bool) -> Result<Positive, CardReaderError> {
        let bytes = Frame::command(cm, pm, data).encode().map_err(|e| match e {
            FrameError::TooLong { len } => CardReaderError::CommandTooLong { len },
            other => CardReaderError::Protocol(other.to_string()),
        })?;
        // Stale bytes from an earlier, abandoned exchange must not pass for this reply.
        let _ = self.port()?.clear(ClearBuffer::Input);
        self.decoder.reset();

        let mut early_reply = None;
        let mut acked = false;
        for attempt in 1..=MAX_SENDS {
            self.send(&bytes)?;
            match self.wait_ack()? {
                AckWait::Acked => acked = true,
                AckWait::Reply(frame) => {
                    acked = true;
                    early_reply = Some(frame);
                }
                AckWait::Nak => tracing::warn!(cm, pm, attempt, "card reader answered NAK, resending"),
                AckWait::Silence => {
                    tracing::warn!(cm, pm, attempt, "card reader did not acknowledge, resending")
                }
            }
            if acked {
                break;
            }
        }
        if !acked {
            return Err(CardReaderError::NoAcknowledge { attempts: MAX_SENDS });
        }
        let reply = match early_reply {
            Some(frame) if frame.cm == cm && frame.pm == pm => frame,
            _ => {
                let timeout = if long { self.timeouts.long_reply } else { self.timeouts.reply };
                self.wait_reply(cm, pm, timeout)?
            }
        };
        interpret(reply)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), CardReaderError> {
        let port = self.port()?;
        port.write_all(bytes)?;
        port.flush()?;
        Ok(())
    }

    fn send_control(&mut self, control: Control) -> Result<(), CardReaderError> {
        self.send(&[control.byte()])
    }

    fn wait_ack(&mut self) -> Result<AckWait, CardReaderError> {
        let deadline = Instant::now() + self.timeouts.ack;
        loop {
            while let Some(event) = self.decoder.next_event() {
                match event {
                    Ok(Decoded::Control(Control::Ack)) => return Ok(AckWait::Acked),
                    Ok(Decoded::Control(Control::Nak)) => return Ok(AckWait::Nak),
                    Ok(Decoded::Control(Control::Eot)) => {}
                    Ok(Decoded::Frame(frame)) => {
                        self.send_control(Control::Ack)?;
                        return Ok(AckWait::Reply(frame));
                    }
                    Err(error) => tracing::debug!(%error, "noise while waiting for ACK"),
                }
            }
            if !self.fill(deadline)? {
                return Ok(AckWait::Silence);
            }
        }
    }

    fn wait_reply(&mut self, cm: u8, pm: u8, timeout: Duration) -> Result<Frame, CardReaderError> {
        let deadline = Instant::now() + timeout;
        let mut bad = 0;
        loop {
            while let Some(event) = self.decoder.next_event() {
                match event {
                    // Duplicated ACKs and the like: nothing to do.
                    Ok(Decoded::Control(_)) => {}
                    Ok(Decoded::Frame(frame)) => {
                        self.send_control(Control::Ack)?;
                        if frame.cm == cm && frame.pm == pm {
                            return Ok(frame);
                        }
                        tracing::warn!(cm = frame.cm, pm = frame.pm, "ignoring a reply to another command");
                    }
                    Err(error) => {
                        bad += 1;
                        tracing::warn!(%error, attempt = bad, "damaged reply, asking the reader to resend");
                        if bad > MAX_BAD_REPLIES {
                            return Err(CardReaderError::Protocol(format!(
                                "{bad} damaged replies in a row, last: {error}"
                            )));
                        }
                        // The whole frame comes again: the rest of the damaged one is useless.
                        self.decoder.reset();
                        self.send_control(Control::Nak)?;
                    }
                }
            }
            if self.decoder.is_mid_frame() && self.last_byte.elapsed() > self.inter_byte_timeout() {
                bad += 1;
                tracing::warn!(attempt = bad, "reply cut short (bytes lost), asking the reader to resend");
                if bad > MAX_BAD_REPLIES {
                    return Err(CardReaderError::Protocol(format!("{bad} damaged replies in a row")));
                }
                self.decoder.reset();
                self.send_control(Control::Nak)?;
                self.last_byte = Instant::now();
            }
            if !self.fill(deadline)? {
                // Cancel, so a late reply does not collide with the next command.
                let _ = self.send_control(Control::Eot);
                return Err(CardReaderError::Timeout { timeout_ms: millis(timeout) });
            }
        }
    }

    /// Reads what arrives before `deadline` into the decoder; false once the deadline passed.
    fn fill(&mut self, deadline: Instant) -> Result<bool, CardReaderError> {
        if Instant::now() >= deadline {
            return Ok(false);
        }
        let mut buf = [0u8; 1024];
        match self.port()?.read(&mut buf) {
            // Zero bytes means hang-up on some ports: wait instead of spinning.
            Ok(0) => std::thread::sleep(READ_SLICE),
            Ok(n) => {
                self.last_byte = Instant::now();
                self.decoder.push(buf.get(..n).unwrap_or_default());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::TimedOut | ErrorKind::WouldBlock | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(true)
    }
}

fn open_port(path: &str, baud: u32) -> Result<Box<dyn SerialPort>, CardReaderError> {
    open_8n1(path, baud).map_err(|reason| CardReaderError::Open { port: path.to_owned(), reason })
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Turns a reply frame into its payload or the reader's error.
fn interpret(frame: Frame) -> Result<Positive, CardReaderError> {
    match frame.cmt {
        CMT_POSITIVE => {
            let (st, data) = frame.data.split_at_checked(3).ok_or_else(|| {
                CardReaderError::Protocol("positive reply without the three status bytes".to_owned())
            })?;
            let card_position = match st.first() {
                Some(b'0') => CardPosition::NoCard,
                Some(b'1') => CardPosition::AtGate,
                Some(b'2') => CardPosition::Inside,
                other => {
                    return Err(CardReaderError::Protocol(format!("unknown card position status {other:?}")))
                }
            };
            Ok(Positive { status: ReaderStatus { card_position }, data: data.to_vec() })
        }
        CMT_NEGATIVE => {
            let code = match frame.data.as_slice() {
                [e1, e0] if e1.is_ascii_alphanumeric() && e0.is_ascii_alphanumeric() => {
                    format!("{}{}", char::from(*e1), char::from(*e0))
                }
                other => {
                    return Err(CardReaderError::Protocol(format!(
                        "negative reply with a malformed error code of {} bytes",
                        other.len()
                    )))
                }
            };
            let kind = DeviceErrorKind::from_code(&code);
            tracing::debug!(cm = frame.cm, pm = frame.pm, %code, "card reader refused the command");
            Err(CardReaderError::Device { code, kind })
        }
        other => Err(CardReaderError::Protocol(format!("reply of unknown type {other:#04x}"))),
    }
}

impl CardReader for SerialCardReader {
    fn initialise(&mut self) -> Result<ReaderStatus, CardReaderError> {
        Ok(self.command(0x30, 0x30, Vec::new(), false)?.status)
    }

    fn status(&mut self) -> Result<ReaderStatus, CardReaderError> {
        Ok(self.command(0x31, 0x30, Vec::new(), false)?.status)
    }

    fn firmware_version(&mut self) -> Result<String, CardReaderError> {
        let data = self.command(0xA4, 0x30, Vec::new(), false)?.data;
        Ok(String::from_utf8_lossy(&data).trim().to_owned())
    }

    fn retain_bin_count(&mut self) -> Result<u16, CardReaderError> {
        let data = self.command(0xA5, 0x30, Vec::new(), false)?.data;
        match data.as_slice() {
            [hi, lo] => Ok(u16::from_be_bytes([*hi, *lo])),
            other => Err(CardReaderError::Protocol(format!(
                "retain bin counter of {} bytes, expected 2",
                other.len()
            ))),
        }
    }

    fn scan_mrz(&mut self) -> Result<Vec<String>, CardReaderError> {
        let data = self.command(0x70, 0x30, Vec::new(), false)?.data;
        let text = String::from_utf8(data)
            .map_err(|_| CardReaderError::Protocol("MRZ scan returned non-ASCII bytes".to_owned()))?;
        Ok(text
            .split('\r')
            .map(|line| line.trim_matches('\n').to_owned())
            .filter(|line| !line.is_empty())
            .collect())
    }

    fn activate_contactless(&mut self) -> Result<ContactlessCard, CardReaderError> {
        // Flagged first: a lost reply may still have left the field on, so Drop cleans up.
        self.contactless_active = true;
        let data = self.command(0x60, 0x30, Vec::new(), false)?.data;
        let (card_type, uid) = data.split_first().ok_or_else(|| {
            CardReaderError::Protocol("contactless activation without card type".to_owned())
        })?;
        let card_type = char::from(*card_type);
        if !matches!(card_type, 'A' | 'B') {
            return Err(CardReaderError::Protocol(format!("unknown contactless card type {card_type:?}")));
        }
        Ok(ContactlessCard { card_type, uid: uid.to_vec() })
    }

    fn deactivate_contactless(&mut self) -> Result<(), CardReaderError> {
        self.command(0x60, 0x31, Vec::new(), false)?;
        self.contactless_active = false;
        Ok(())
    }

    fn power_on_contact(&mut self) -> Result<Vec<u8>, CardReaderError> {
        self.contact_powered = true;
        Ok(self.command(0x51, 0x30, Vec::new(), false)?.data)
    }

    fn power_off_contact(&mut self) -> Result<(), CardReaderError> {
        self.command(0x51, 0x31, Vec::new(), false)?;
        self.contact_powered = false;
        Ok(())
    }

    fn transmit(&mut self, interface: ChipInterface, command: &[u8]) -> Result<Vec<u8>, CardReaderError> {
        let (cm, pm) = match interface {
            ChipInterface::Contact => (0x51, 0x39),
            ChipInterface::Contactless => (0x60, 0x33),
        };
        Ok(self.command(cm, pm, command.to_vec(), true)?.data)
    }

    fn eject(&mut self) -> Result<(), CardReaderError> {
        self.command(0x32, 0x30, Vec::new(), true).map(drop)
    }

    fn retain(&mut self) -> Result<(), CardReaderError> {
        self.command(0x32, 0x33, Vec::new(), true).map(drop)
    }

    fn set_light(&mut self, light: Option<crate::imager::Light>) -> Result<(), CardReaderError> {
        let pm = light.map_or(0x30, crate::imager::Light::parameter);
        self.command(0x71, pm, Vec::new(), false).map(drop)
    }
}

impl Drop for SerialCardReader {
    fn drop(&mut self) {
        // Leave no chip powered and no field active; the reader may be gone, so errors are moot.
        if self.port.is_none() {
            return;
        }
        self.timeouts.reply = self.timeouts.reply.min(DROP_REPLY_TIMEOUT);
        if self.contact_powered {
            if let Err(error) = self.power_off_contact() {
                tracing::debug!(%error, "could not power the contact chip off on drop");
            }
        }
        if self.contactless_active {
            if let Err(error) = self.deactivate_contactless() {
                tracing::debug!(%error, "could not deactivate contactless on drop");
            }
        }
    }
}
