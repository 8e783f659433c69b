//! A software TPM 2.0 (swtpm, Debian package `swtpm`, installed by scripts/setup) on a unix
//! socket, started by the test and stopped when dropped. `device` is the TCTI string that
//! systemd-creds takes in `$SYSTEMD_TPM2_DEVICE`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Swtpm {
    child: Child,
    pub device: String,
    _dir: tempfile::TempDir,
}

impl Swtpm {
    /// A fresh TPM: its own seeds, so nothing sealed by another one opens here.
    pub fn start() -> Swtpm {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        let socket = dir.path().join("tpm.sock");
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", state.display()))
            .arg("--server")
            .arg(format!("type=unixio,path={}", socket.display()))
            .arg("--ctrl")
            .arg(format!("type=unixio,path={}.ctrl", socket.display()))
            .args(["--flags", "not-need-init,startup-clear"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("swtpm (Debian package swtpm, installed by scripts/setup)");
        let ctrl = format!("{}.ctrl", socket.display());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !(socket.exists() && Path::new(&ctrl).exists()) {
            assert!(Instant::now() < deadline, "swtpm did not open its sockets");
            std::thread::sleep(Duration::from_millis(20));
        }
        Swtpm { child, device: format!("swtpm:path={}", socket.display()), _dir: dir }
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
