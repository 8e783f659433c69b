//! The device side of a serial line on a pseudo-terminal: the one loop every serial simulator
//! (card reader, receipt printer) runs on a std thread at the master end, paced like the line
//! it plays. The driver under test opens the slave path as it opens a real serial port.
//!
//! A simulator is a [`LineDevice`]: the loop hands it the host's bytes (after the time they
//! take on the line) and turns it once per poll; it answers through [`DeviceLine::write`].

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use nix::unistd::ttyname;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PtyError {
    #[error(
        "could not create a pseudo-terminal ({step}): {source}. Check /dev/ptmx exists and devpts is mounted"
    )]
    Os {
        step: &'static str,
        #[source]
        source: nix::Error,
    },
}

fn os(step: &'static str) -> impl FnOnce(nix::Error) -> PtyError {
    move |source| PtyError::Os { step, source }
}

/// Both ends of a pty. The slave fd is kept so the pty stays alive while the driver
/// opens, closes and reopens the slave path.
pub struct PtyPair {
    /// Device side; non-blocking so the simulator can poll for shutdown.
    pub master: File,
    pub slave: OwnedFd,
    pub slave_path: PathBuf,
}

/// Opens a pty, both ends in raw mode (no echo, no CR/LF translation: the protocol is binary).
pub fn open_raw_pty() -> Result<PtyPair, PtyError> {
    let pair = openpty(None, None).map_err(os("openpty"))?;
    for fd in [&pair.master, &pair.slave] {
        let mut termios = tcgetattr(fd).map_err(os("tcgetattr"))?;
        cfmakeraw(&mut termios);
        tcsetattr(fd, SetArg::TCSANOW, &termios).map_err(os("tcsetattr"))?;
    }
    let flags = fcntl(&pair.master, FcntlArg::F_GETFL).map_err(os("fcntl get"))?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(&pair.master, FcntlArg::F_SETFL(flags)).map_err(os("fcntl set"))?;
    let slave_path = ttyname(&pair.slave).map_err(os("ttyname"))?;
    Ok(PtyPair { master: File::from(pair.master), slave: pair.slave, slave_path })
}

/// Idle poll period of the device loop: short, so a reply goes out as soon as it is due.
const IDLE_POLL: Duration = Duration::from_millis(1);

/// How a simulator paces the line, as the device it plays would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// Line speed: every byte takes 10 bits (8N1) at this rate. Bytes from the host are
    /// delivered after the time they took; above zero (the simulators check it at spawn).
    pub baud: u32,
    /// Replies go out at line speed too, a sleep after each chunk of this many bytes; `None`:
    /// as fast as the pty takes them (a printer's one status byte).
    pub write_chunk: Option<usize>,
    /// A write making no progress this long (nobody reads the port) is abandoned.
    pub write_stall: Duration,
}

impl Pacing {
    /// Sleeps the time `bytes` take on the line.
    fn wait_for(&self, bytes: usize) {
        let micros = (bytes as u64).saturating_mul(10_000_000) / u64::from(self.baud.max(1));
        std::thread::sleep(Duration::from_micros(micros));
    }
}

/// The device's end of the line: the pty master (non-blocking), the slave fd that keeps the pty
/// alive while the driver opens, closes and reopens the slave path, the pacing and the stop flag.
pub struct DeviceLine {
    master: File,
    slave: OwnedFd,
    pacing: Pacing,
    stop: Arc<AtomicBool>,
}

/// What one poll of the master gave.
enum Poll {
    Bytes(usize),
    Idle,
    Failed(std::io::Error),
}

impl DeviceLine {
    pub fn new(pty: PtyPair, pacing: Pacing, stop: Arc<AtomicBool>) -> Self {
        Self { master: pty.master, slave: pty.slave, pacing, stop }
    }

    /// True once the simulator's handle asked the device to stop.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Asks the loop to stop after this turn (the device cannot go on).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Swaps in a fresh pty (the cable pulled and plugged back): both ends of the old one close
    /// under the driver.
    pub fn replace(&mut self, pty: PtyPair) {
        drop(std::mem::replace(&mut self.master, pty.master));
        drop(std::mem::replace(&mut self.slave, pty.slave));
    }

    /// Reads what the driver wrote, waiting `IDLE_POLL` when nothing is there so the loop does
    /// not spin; bytes read are delivered after the time they took on the line.
    fn poll(&mut self, buf: &mut [u8]) -> Poll {
        match self.master.read(buf) {
            Ok(n) if n > 0 => {
                self.pacing.wait_for(n);
                Poll::Bytes(n)
            }
            Ok(_) => {
                std::thread::sleep(IDLE_POLL);
                Poll::Idle
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                std::thread::sleep(IDLE_POLL);
                Poll::Idle
            }
            Err(e) => Poll::Failed(e),
        }
    }

    /// Writes `bytes` to the driver as the pacing says; a full pty buffer is waited out, a stop
    /// request or a stalled write abandons the rest. Returns how many bytes went out.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let chunk = self.pacing.write_chunk.unwrap_or(bytes.len()).max(1);
        let mut sent = 0;
        for piece in bytes.chunks(chunk) {
            let mut rest = piece;
            let mut last_progress = Instant::now();
            while !rest.is_empty() {
                if self.stopped() || last_progress.elapsed() > self.pacing.write_stall {
                    tracing::debug!("simulator write abandoned: nobody reads the port");
                    return sent;
                }
                match self.master.write(rest) {
                    Ok(n) if n > 0 => {
                        sent += n;
                        rest = rest.get(n..).unwrap_or_default();
                        last_progress = Instant::now();
                    }
                    Ok(_) => std::thread::sleep(IDLE_POLL),
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                        std::thread::sleep(IDLE_POLL);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "simulator write failed");
                        return sent;
                    }
                }
            }
            if self.pacing.write_chunk.is_some() {
                self.pacing.wait_for(piece.len());
            }
        }
        sent
    }
}

/// A simulated serial device, driven by [`run`].
pub trait LineDevice {
    /// For the log: "card reader", "printer".
    const NAME: &'static str;

    fn line(&mut self) -> &mut DeviceLine;

    /// Bytes from the host, once they have crossed the line.
    fn received(&mut self, bytes: &[u8]);

    /// Once per poll, bytes or none: decode, answer, run timers.
    fn turn(&mut self);
}

/// The device loop: poll the line, hand over what came, turn the device; until stopped or the
/// line fails.
pub fn run<D: LineDevice>(device: &mut D) {
    let mut buf = [0u8; 4096];
    while !device.line().stopped() {
        match device.line().poll(&mut buf) {
            Poll::Bytes(n) => device.received(buf.get(..n).unwrap_or_default()),
            Poll::Idle => {}
            Poll::Failed(e) => {
                tracing::warn!(error = %e, "{} simulator line failed, stopping", D::NAME);
                return;
            }
        }
        device.turn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn bytes_cross_the_pty_unchanged() {
        let mut pty = open_raw_pty().unwrap();
        let mut slave = std::fs::OpenOptions::new().read(true).write(true).open(&pty.slave_path).unwrap();
        let bytes = [0xF2, 0x00, 0x0D, 0x0A, 0x03, 0x11, 0x13, 0x7F];
        slave.write_all(&bytes).unwrap();
        let mut got = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while got.len() < bytes.len() && std::time::Instant::now() < deadline {
            let mut buf = [0u8; 16];
            match pty.master.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        assert_eq!(got, bytes);
    }

    /// Answers every byte with itself.
    struct Echo(DeviceLine);

    impl LineDevice for Echo {
        const NAME: &'static str = "echo";

        fn line(&mut self) -> &mut DeviceLine {
            &mut self.0
        }

        fn received(&mut self, bytes: &[u8]) {
            self.0.write(bytes);
        }

        fn turn(&mut self) {}
    }

    #[test]
    fn the_loop_paces_both_ways_at_the_baud_rate_and_stops_when_asked() {
        let pty = open_raw_pty().unwrap();
        let mut host = std::fs::OpenOptions::new().read(true).write(true).open(&pty.slave_path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // 9600 baud: 96 bytes take 100 ms on the line each way; the last reply chunk is read
        // before its own pause, so at least 180 ms pass.
        let pacing = Pacing { baud: 9600, write_chunk: Some(16), write_stall: Duration::from_secs(2) };
        let mut echo = Echo(DeviceLine::new(pty, pacing, Arc::clone(&stop)));
        let device = std::thread::spawn(move || run(&mut echo));
        let sent: Vec<u8> = (0..96).collect();
        let started = Instant::now();
        host.write_all(&sent).unwrap();
        let mut got = vec![0u8; sent.len()];
        host.read_exact(&mut got).unwrap();
        assert_eq!(got, sent);
        assert!(started.elapsed() >= Duration::from_millis(180), "{:?}", started.elapsed());
        stop.store(true, Ordering::Relaxed);
        device.join().unwrap();
    }
}
