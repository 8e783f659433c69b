//! Shared by the tests that run `kiosk run` as systemd does: a provisioned demo kiosk whose
//! health endpoint listens on a free loopback port, and a plain HTTP GET of that endpoint.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

/// A provisioned demo kiosk in a temporary folder, the key-encryption key as a file
/// (tests/kek_credential.rs has the credential).
pub struct DemoSite {
    pub tmp: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub port: u16,
}

impl DemoSite {
    /// `store` is added to the site file's `[store]` table (lines ending in `\n`).
    pub fn provisioned(store: &str) -> DemoSite {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = tmp.path().join("site.toml");
        let site = format!(
            "[kiosk]\ndemo = true\n\n[health]\nlisten = \"127.0.0.1:{port}\"\nstop_grace_s = 2\n\n[store]\nkek = \"file\"\n{store}"
        );
        std::fs::write(&config, site).unwrap();
        let out = Command::new(KIOSK)
            .arg("--config")
            .arg(&config)
            .args(["provision", "--site", "T", "--data-dir"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "kiosk provision: {}", String::from_utf8_lossy(&out.stderr));
        DemoSite { tmp, data, config, port }
    }
}

/// `kiosk --config CONFIG run --data-dir DATA` from the repository (where the models are), its
/// output discarded; the caller sets the environment and spawns it.
pub fn kiosk_run(config: &Path, data: &Path) -> Command {
    let mut command = Command::new(KIOSK);
    command
        .arg("--config")
        .arg(config)
        .args(["run", "--data-dir"])
        .arg(data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

/// `GET path` on the loopback port: status and body; `None` while nothing answers.
pub fn try_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// Like [`try_get`], for an endpoint that must answer.
pub fn get(port: u16, path: &str) -> (u16, String) {
    try_get(port, path).unwrap_or_else(|| panic!("no HTTP answer to GET {path} on port {port}"))
}
