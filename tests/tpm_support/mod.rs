//! A software TPM 2.0 (swtpm, Debian package `swtpm`, installed by scripts/setup) on a unix
//! socket, started by the test and stopped when dropped. `device` is the TCTI string that
//! systemd-creds takes in `$SYSTEMD_TPM2_DEVICE`.
#![allow(dead_code)] // each test file uses its own part (deploy_scripts only starts it)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Swtpm {
    child: Child,
    pub device: String,
    socket: std::path::PathBuf,
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
        Swtpm { child, device: format!("swtpm:path={}", socket.display()), socket, _dir: dir }
    }

    /// An orderly power cycle: TPM2_Shutdown(CLEAR), then re-initialised (swtpm_ioctl -i, with
    /// TPM2_Startup). Without a kernel resource manager (/dev/tpmrm0) the sessions systemd-creds
    /// leaves behind are never flushed, and swtpm has room for three; a kiosk's kernel flushes
    /// them, so between two commands the tests do the same. Seeds and sealed objects stay.
    pub fn power_cycle(&self) {
        use std::io::{Read, Write};
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket).unwrap();
        // tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_Shutdown, TPM_SU_CLEAR
        stream.write_all(&[0x80, 0x01, 0, 0, 0, 12, 0, 0, 0x01, 0x45, 0, 0]).unwrap();
        let mut answer = [0u8; 10];
        stream.read_exact(&mut answer).unwrap();
        // TPM_RC_SUCCESS, or TPM_RC_INITIALIZE when it was not started yet (nothing to flush).
        assert!(matches!(answer[6..], [0, 0, 0, 0] | [0, 0, 1, 0]), "TPM2_Shutdown answered {answer:02x?}");
        drop(stream);
        let out = Command::new("swtpm_ioctl")
            .arg("--unix")
            .arg(format!("{}.ctrl", self.socket.display()))
            .arg("-i")
            .output()
            .expect("swtpm_ioctl (Debian package swtpm-tools, installed by scripts/setup)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
