//! A raw pseudo-terminal pair: the simulator holds the master, the driver opens the slave path.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

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

/// What one poll of a (non-blocking) pty master gave a simulator.
pub enum MasterRead {
    /// This many bytes arrived from the driver.
    Bytes(usize),
    /// Nothing yet; the poll already waited `idle` so the loop does not spin.
    Idle,
    /// The line failed: the simulator stops.
    Failed(std::io::Error),
}

/// Reads what the driver wrote into `buf`, waiting `idle` when nothing is there.
pub fn read_master(master: &mut File, buf: &mut [u8], idle: std::time::Duration) -> MasterRead {
    use std::io::{ErrorKind, Read};
    match master.read(buf) {
        Ok(n) if n > 0 => MasterRead::Bytes(n),
        Ok(_) => {
            std::thread::sleep(idle);
            MasterRead::Idle
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
            std::thread::sleep(idle);
            MasterRead::Idle
        }
        Err(e) => MasterRead::Failed(e),
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
}
