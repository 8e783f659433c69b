//! `kiosk-hil-sim card-reader` as `make hil` runs it: a passport signed by a CSCA made for the
//! run, read by a production kiosk (`kiosk card read` on the pty, serial driver) that trusts
//! that CSCA only; the same passport is refused by a kiosk trusting only the test CSCA.

mod cli_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cli_support::kiosk;

/// The simulator, stopped (SIGKILL) when dropped.
struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_reader(dir: &Path, label: &str) -> (Sim, PathBuf, PathBuf) {
    let link = dir.join("reader.pty");
    let csca = dir.join("run-csca.der");
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/faces/obama3.jpg");
    let child = Command::new(env!("CARGO_BIN_EXE_kiosk-hil-sim"))
        .args(["card-reader", "--link"])
        .arg(&link)
        .args(["--pki-label", label, "--csca-out"])
        .arg(&csca)
        .arg("--passport-photo")
        .arg(&photo)
        .stdout(Stdio::null())
        .spawn()
        .expect("start kiosk-hil-sim");
    let sim = Sim(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(link.exists() && csca.exists()) {
        assert!(Instant::now() < deadline, "kiosk-hil-sim made no pty link and CSCA in 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    (sim, link, csca)
}

fn site(dir: &Path, port: &Path, csca_dir: &Path) -> PathBuf {
    let file = dir.join("site.toml");
    std::fs::write(
        &file,
        format!(
            "[card_reader]\ndriver = \"serial\"\nport = \"{}\"\nbaud = 115200\ncsca_dir = \"{}\"\n",
            port.display(),
            csca_dir.display()
        ),
    )
    .unwrap();
    file
}

#[test]
fn the_run_csca_signs_the_simulators_passport_and_nothing_else_trusts_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, link, csca) = spawn_reader(dir.path(), "hil-run-3f9c2a");
    let trust = dir.path().join("trust");
    std::fs::create_dir(&trust).unwrap();
    std::fs::copy(&csca, trust.join("run-csca.der")).unwrap();

    let config = site(dir.path(), &link, &trust);
    let (code, out, err) = kiosk(&["--config", config.to_str().unwrap(), "card", "read", "--json", "--wait", "20"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["trusted"], true, "{out}");
    assert_eq!(report["passive_authentication"]["csca"], "CN=Kiosk Test CSCA hil-run-3f9c2a,O=Kiosk Test,C=UT");
    // The DG2 photo is made passport-sized (a camera JPEG would take a minute at 115 200 baud).
    let bytes = report["face_image"]["bytes"].as_u64().unwrap();
    assert!((5_000..60_000).contains(&bytes), "{bytes} bytes");

    // A kiosk that trusts only the shipped test CSCA refuses the run's passport.
    let test_csca = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk-config/csca");
    let config = site(dir.path(), &link, &test_csca);
    let (code, out, _) = kiosk(&["--config", config.to_str().unwrap(), "card", "read", "--wait", "20"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not in the CSCA trust store"), "{out}");
}

#[test]
fn two_runs_make_two_unrelated_cscas() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (_sa, _, csca_a) = spawn_reader(a.path(), "hil-run-aaaa");
    let (_sb, _, csca_b) = spawn_reader(b.path(), "hil-run-bbbb");
    assert_ne!(std::fs::read(csca_a).unwrap(), std::fs::read(csca_b).unwrap());
}
