//! Shared by kiosk-core's integration tests: a throwaway PostgreSQL, gateway processes, a
//! kiosk with its PKI (the kiosk crate's own test support), and a raw HTTPS client for bad
//! input.
#![allow(dead_code)]

pub mod load;
pub mod pg;

pub use kiosk_test_support as kiosk_side;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kiosk::store::KeyStore;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub const EXE: &str = env!("CARGO_BIN_EXE_kiosk-core");

/// Runs `kiosk-core ARGS` to completion against `db_url`; returns stdout, or panics with stderr.
pub fn cli(db_url: &str, args: &[&str]) -> String {
    let out = Command::new(EXE).args(args).env("KIOSK_CORE_DATABASE_URL", db_url).output().expect("run kiosk-core");
    assert!(out.status.success(), "kiosk-core {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Like [`cli`], for a command expected to fail: (exit code, stderr).
pub fn cli_fails(db_url: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new(EXE).args(args).env("KIOSK_CORE_DATABASE_URL", db_url).output().expect("run kiosk-core");
    assert!(!out.status.success(), "kiosk-core {args:?} should have failed");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The bank's side of the PKI and the KEK, in one folder.
pub struct BankFiles {
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_ca: PathBuf,
    pub kek: PathBuf,
}

impl BankFiles {
    pub fn new(dir: &Path, pki: &kiosk_side::Pki) -> BankFiles {
        let kek = dir.join("core-kek.key");
        if !kek.exists() {
            KeyStore::create(&kek).unwrap();
        }
        BankFiles { server_cert: pki.server_cert.clone(), server_key: pki.server_key.clone(), client_ca: pki.ca.clone(), kek }
    }
}

/// What every kiosk-core test starts from: a throwaway PostgreSQL at the newest schema and one
/// test kiosk (KIOSK-TEST's PKI, key-encryption key and identity) in a temporary folder.
pub struct TestCore {
    pub pg: pg::PgCluster,
    pub url: String,
    /// What the first `kiosk-core migrate` printed.
    pub migrated: String,
    pub dir: tempfile::TempDir,
    pub kiosk: kiosk_side::Kiosk,
}

impl TestCore {
    pub fn start() -> TestCore {
        let (pg, migrated) = pg::PgCluster::migrated();
        let dir = tempfile::tempdir().unwrap();
        let kiosk = kiosk_side::Kiosk::new(dir.path());
        TestCore { url: pg.url(), pg, migrated, dir, kiosk }
    }

    /// Registers a kiosk through the CLI, as the bank does; returns what it printed.
    pub fn register(&self, kiosk_id: &str, identity: &kiosk::account::KioskIdentity) -> String {
        let file = self.dir.path().join(format!("{kiosk_id}.toml"));
        std::fs::write(&file, provisioned_toml(kiosk_id, identity)).unwrap();
        cli(&self.url, &["kiosks", "register", "--from", file.to_str().unwrap()])
    }

    /// The bank's files for a gateway that trusts the test kiosk's CA.
    pub fn files(&self) -> BankFiles {
        BankFiles::new(self.dir.path(), &self.kiosk.pki)
    }
}

/// One `kiosk-core serve` process; SIGKILLed when dropped.
pub struct Gateway {
    pub child: Child,
    pub api: String,
    pub ops: String,
}

impl Gateway {
    pub fn start(db_url: &str, files: &BankFiles, extra: &[&str]) -> Gateway {
        let mut child = Command::new(EXE)
            .args(["serve", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--base-path", "/core", "--pool-size", "8"])
            .arg("--tls-cert")
            .arg(&files.server_cert)
            .arg("--tls-key")
            .arg(&files.server_key)
            .arg("--client-ca")
            .arg(&files.client_ca)
            .arg("--kek")
            .arg(&files.kek)
            .args(extra)
            .env("KIOSK_CORE_DATABASE_URL", db_url)
            .env("KIOSK_CORE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kiosk-core serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut api, mut ops) = (String::new(), String::new());
        while api.is_empty() || ops.is_empty() {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => panic!("kiosk-core serve exited before listening (see its stderr above)"),
            };
            if let Some(rest) = line.strip_prefix("kiosk-core: API (mutual TLS) on ") {
                api = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("kiosk-core: fleet page and metrics on ") {
                ops = rest.trim().trim_end_matches('/').to_owned();
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Gateway { child, api, ops }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A raw answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub key: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// An HTTPS client with the kiosk's client certificate, sending whatever it is given.
pub struct RawClient {
    tls: tokio_rustls::TlsConnector,
    addr: String,
}

impl RawClient {
    pub fn new(pki: &kiosk_side::Pki, api_url: &str) -> RawClient {
        let config = pki.client_tls();
        let addr = api_url.trim_start_matches("https://").split('/').next().unwrap().to_owned();
        RawClient { tls: tokio_rustls::TlsConnector::from(Arc::clone(&config)), addr }
    }

    pub async fn post(&self, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
        let tcp = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let tls = self.tls.connect(name, tcp).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::post(path).header("host", &self.addr);
        let mut has_type = false;
        for (name, value) in headers {
            has_type |= name.eq_ignore_ascii_case("content-type");
            req = req.header(*name, value);
        }
        if !has_type {
            req = req.header("content-type", "application/json");
        }
        let resp = tokio::time::timeout(Duration::from_secs(30), send.send_request(req.body(Full::new(Bytes::from(body))).unwrap()))
            .await
            .expect("answer in time")
            .unwrap();
        let status = resp.status().as_u16();
        let key = resp.headers().get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply { status, key, body: String::from_utf8_lossy(&body).into_owned() }
    }
}

/// A registration file as `kiosk provision` writes it.
pub fn provisioned_toml(kiosk_id: &str, identity: &kiosk::account::KioskIdentity) -> String {
    let key = identity.verifying_key();
    format!(
        "site = \"TEST-SITE\"\nkiosk_id = \"{kiosk_id}\"\npublic_key = \"{}\"\nfingerprint = \"{}\"\n",
        hex::encode(key.as_bytes()),
        kiosk_core::kiosks::fingerprint(key.as_bytes())
    )
}

/// The face of person `n` (< 128): a distinct axis plus a little noise, so two people never
/// score near the duplicate threshold while the same face always does.
pub fn face(n: u32) -> Vec<f32> {
    let noise = kiosk::vision::Embedding::synthetic(u64::from(n) + 7);
    let mut values: Vec<f32> = noise.as_slice().iter().map(|v| v * 0.5).collect();
    values[n as usize % 128] += 1.0;
    values
}
