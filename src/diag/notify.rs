//! systemd's notify protocol without libsystemd: datagrams such as `READY=1` to the unix
//! socket named by `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where to send notifications; absent when not started by systemd with `Type=notify`.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`; `None` when unset or unusable (then notifications are no-ops).
    pub fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let name = name.to_str()?;
        let address = match name.strip_prefix('@') {
            Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()).ok()?,
            None => SocketAddr::from_pathname(name).ok()?,
        };
        let socket = UnixDatagram::unbound().ok()?;
        Some(Notifier { socket, address })
    }

    /// Sends one state string (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=...`).
    pub fn notify(&self, state: &str) {
        if let Err(error) = self.socket.send_to_addr(state.as_bytes(), &self.address) {
            tracing::warn!(%error, "systemd notification could not be sent");
        }
    }
}

/// Sends `state` when running under systemd; does nothing otherwise.
pub fn notify(notifier: Option<&Notifier>, state: &str) {
    if let Some(n) = notifier {
        n.notify(state);
    }
}

/// How often to send `WATCHDOG=1`: half the unit's `WatchdogSec` (from `$WATCHDOG_USEC`),
/// when the watchdog is meant for this process.
pub fn watchdog_interval() -> Option<Duration> {
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok()) {
        if pid != std::process::id() {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier { socket: UnixDatagram::unbound().unwrap(), address: SocketAddr::from_pathname(&path).unwrap() };
        notifier.notify("READY=1");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn sends_datagrams_to_an_abstract_socket() {
        let name = format!("kiosk-notify-test-{}", std::process::id());
        let server = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let notifier = Notifier {
            socket: UnixDatagram::unbound().unwrap(),
            address: SocketAddr::from_abstract_name(name.as_bytes()).unwrap(),
        };
        notifier.notify("WATCHDOG=1");
        let mut buf = [0u8; 64];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }
}
