//! `kiosk diag` as a technician runs it, against the simulated devices: everything ok on a
//! provisioned kiosk with a reachable (loopback) core, then each device made faulty in turn
//! reports its own check as failing, with an action, and nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiosk::sync::sim::{CoreSimulator, SimSettings};
use serde_json::Value;

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

struct Site {
    _tmp: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
}

/// A provisioned data folder, the test PKI, and a site file pointing at `core_url`.
fn site(core: impl FnOnce(&kiosk_test_support::Pki, &str) -> String) -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file_kek = tmp.path().join("file-kek.toml");
    std::fs::write(&file_kek, "[store]\nkek = \"file\"\n").unwrap();
    let out = Command::new(KIOSK).arg("--config").arg(&file_kek).args(["provision", "--site", "TEST-01", "--data-dir"]).arg(&data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let public_key = stdout.lines().find_map(|l| l.strip_prefix("public key: ")).unwrap().to_owned();
    let pki = kiosk_test_support::make_pki(tmp.path(), "core");
    let core_url = core(&pki, &public_key);
    let config = tmp.path().join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndemo = true\ndata_dir = \"{}\"\n\n[store]\nkek = \"file\"\n\n[sync]\ncore_url = \"{core_url}\"\nca_cert = \"{}\"\nclient_cert = \"{}\"\nclient_key = \"{}\"\nconnect_timeout_s = 3\n",
            data.display(),
            pki.ca.display(),
            pki.client_cert.display(),
            pki.client_key.display()
        ),
    )
    .unwrap();
    Site { _tmp: tmp, config, data }
}

fn diag(config: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(KIOSK)
        .arg("--config")
        .arg(config)
        .args(["diag", "--json", "--no-interactive"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json, format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
}

fn status_of<'a>(report: &'a Value, id: &str) -> &'a str {
    report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).and_then(|c| c["status"].as_str()).unwrap_or("missing")
}

fn not_ok(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "ok" && c["status"] != "skip")
        .map(|c| format!("{} {}: {}", c["id"], c["status"], c["value"]))
        .collect()
}

#[test]
fn every_check_ok_then_each_simulated_device_fault_fails_its_own_check() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let mut sim = None;
    let site = site(|pki, public_key| {
        let key: [u8; 32] = hex::decode(public_key).unwrap().try_into().unwrap();
        let settings = SimSettings {
            server_cert: pki.server_cert.clone(),
            server_key: pki.server_key.clone(),
            client_ca: pki.ca.clone(),
            kiosk_key: ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap(),
            base_path: String::new(),
        };
        let started = runtime.block_on(CoreSimulator::start(settings)).unwrap();
        let url = started.url();
        sim = Some(started);
        url
    });

    let (code, report, text) = diag(&site.config, &[]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(report["schema"], "kiosk-diag/1");
    assert_eq!(report["status"], "ok");
    assert_eq!(report["exit_code"], 0);
    assert!(not_ok(&report).is_empty(), "{:?}", not_ok(&report));
    for id in [
        "config.valid", "config.production", "models.manifest", "models.yunet", "models.sface", "models.load", "models.inference",
        "camera.open", "camera.frame_rate", "camera.exposure", "reader.answers", "reader.firmware",
        "reader.retain_bin", "reader.self_test", "display.open", "display.test_pattern", "input.open",
        "input.touch", "speaker.ready", "printer.status", "store.integrity", "store.size", "store.disk_free", "keys.kek",
        "keys.identity", "keys.tls_client_key", "keys.client_cert", "clock.sanity", "sync.backlog",
        "sync.oldest_unsent", "sync.last_success", "sync.quarantined", "sync.core_reachable", "audit.chain",
        "trust.store", "trust.crl_fresh", "trust.countries",
    ] {
        assert_ne!(status_of(&report, id), "missing", "{id} missing from the report");
    }
    assert_eq!(status_of(&report, "input.touch"), "skip");
    assert_eq!(report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "reader.firmware").unwrap()["value"], "KIOSK-SIM CRT571 1.0");

    for (fault, failing, group) in [
        ("reader", "reader.answers", "reader."),
        ("camera", "camera.open", "camera."),
        ("camera-dark", "camera.exposure", "camera."),
        ("display", "display.open", "display."),
        ("input", "input.open", "input."),
        ("speaker", "speaker.ready", "speaker."),
        ("printer-paper-out", "printer.status", "printer."),
        ("printer-cover-open", "printer.status", "printer."),
        ("printer-offline", "printer.status", "printer."),
    ] {
        let (code, report, text) = diag(&site.config, &["--simulate-fault", fault]);
        assert_eq!(code, 2, "{fault}: {text}");
        assert_eq!(status_of(&report, failing), "fail", "{fault}: {text}");
        let check = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == failing).unwrap();
        assert!(check["action"].as_str().is_some_and(|a| a.len() > 20), "{fault}: no action: {check}");
        let others: Vec<String> = not_ok(&report).into_iter().filter(|c| !c.starts_with(&format!("\"{group}"))).collect();
        assert!(others.is_empty(), "{fault} also failed: {others:?}");
    }

    // A declared demo kiosk says so; the same site without `demo` names each simulated device,
    // the test CSCA (by its SHA-256) and the file KEK as failures; `config check` fails the same way.
    let production = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "config.production").unwrap();
    assert!(production["value"].as_str().unwrap().starts_with("demo kiosk"), "{production}");
    let street = site.data.join("street.toml");
    std::fs::write(&street, std::fs::read_to_string(&site.config).unwrap().replace("demo = true\n", "")).unwrap();
    let (code, report, text) = diag(&street, &["--only", "config.production"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(status_of(&report, "config.production"), "fail", "{text}");
    let value = report["checks"][0]["value"].as_str().unwrap();
    for key in ["card_reader.driver", "camera.driver", "display.driver", "input.driver", "speaker.driver", "printer.driver", "store.kek"] {
        assert!(value.contains(key), "{key} not named: {value}");
    }
    assert!(value.contains("kiosk-test-csca.der") && value.contains(kiosk::wiring::TEST_CSCA_SHA256), "{value}");
    let out = Command::new(KIOSK).args(["config", "check"]).arg(&street).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("FAIL: camera.driver") && said.contains("demo = true"), "{said}");

    // Keys readable by others, and a core that went away.
    let kek = site.data.join("keys/kek.key");
    std::fs::set_permissions(&kek, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    drop(sim.take());
    drop(runtime);
    let (code, report, text) = diag(&site.config, &["--only", "keys.kek,sync.core_reachable"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 2, "{text}");
    assert_eq!(status_of(&report, "keys.kek"), "fail");
    assert_eq!(status_of(&report, "sync.core_reachable"), "fail");
}

#[test]
fn warnings_exit_1_and_usage_errors_exit_2() {
    let site = site(|_, _| "https://127.0.0.1:9".into());
    // A retain bin at its limit is a warning, not a failure.
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(&site.config, format!("{config}\n[diag]\nretain_bin_warn = 3\n")).unwrap();
    let (code, report, text) = diag(&site.config, &["--only", "reader"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status_of(&report, "reader.retain_bin"), "warn");
    assert_eq!(report["summary"]["warn"], 1);

    // A client certificate about to expire is a warning with the renewal to do.
    let mut params = rcgen::CertificateParams::new(vec!["kiosk".to_owned()]).unwrap();
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(5);
    let cert = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    let expiring = site.data.join("expiring.pem");
    std::fs::write(&expiring, cert.pem()).unwrap();
    let config = std::fs::read_to_string(&site.config).unwrap();
    let config = config.replace("client_cert = \"", &format!("client_cert = \"{}\"\n# was: ", expiring.display()));
    std::fs::write(&site.config, config).unwrap();
    let (code, report, text) = diag(&site.config, &["--only", "keys.client_cert"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status_of(&report, "keys.client_cert"), "warn");
    assert!(report["checks"][0]["action"].as_str().unwrap().contains("renew"), "{text}");

    let (code, _, text) = diag(&site.config, &["--only", "bogus"]);
    assert_eq!(code, 2);
    assert!(text.contains("unknown check `bogus`"), "{text}");

    // The table names the action under each problem.
    let out = Command::new(KIOSK)
        .arg("--config")
        .arg(&site.config)
        .args(["diag", "--no-interactive", "--only", "reader", "--simulate-fault", "reader"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2));
    assert!(table.contains("FAIL  reader.answers") && table.contains("→ check the reader's serial cable"), "{table}");

    // The health endpoint is never exposed: `config check` names the line.
    let public = site.data.join("public.toml");
    std::fs::write(&public, "[health]\nlisten = \"0.0.0.0:9187\"\n").unwrap();
    let out = Command::new(KIOSK).args(["config", "check"]).arg(&public).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("public.toml:2: key `health.listen`"), "{out:?}");

    // An invalid configuration is itself the finding.
    std::fs::write(&site.config, "[camera]\nwidth = 5\n").unwrap();
    let (code, report, text) = diag(&site.config, &[]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(status_of(&report, "config.valid"), "fail");
    assert!(report["checks"][0]["value"].as_str().unwrap().contains("camera.width"), "{text}");
}

#[test]
fn speaker_and_printer_checks_follow_their_settings() {
    let site = site(|_, _| "https://127.0.0.1:9".into());
    let only = ["--only", "speaker,printer"];
    let (code, report, text) = diag(&site.config, &only);
    assert_eq!(code, 0, "{text}");
    assert_eq!(status_of(&report, "speaker.ready"), "ok");
    assert_eq!(status_of(&report, "printer.status"), "ok");
    let printer = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "printer.status").unwrap();
    assert_eq!(printer["value"], "simulated ESC/POS printer: ready", "{text}");

    // A nearly empty roll is a warning with the thing to do.
    let (code, report, text) = diag(&site.config, &["--only", "printer", "--simulate-fault", "printer-paper-low"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(status_of(&report, "printer.status"), "warn");
    assert!(text.contains("paper roll"), "{text}");

    // No printer: skipped. espeak-ng writing WAV files: really synthesises both voices.
    let base = std::fs::read_to_string(&site.config).unwrap();
    let wav = site.data.join("speech");
    std::fs::write(
        &site.config,
        format!("{base}\n[printer]\ndriver = \"none\"\n\n[speaker]\ndriver = \"espeak-ng\"\nwav_dir = \"{}\"\n", wav.display()),
    )
    .unwrap();
    let (code, report, text) = diag(&site.config, &only);
    assert_eq!(code, 0, "{text}");
    assert_eq!(status_of(&report, "printer.status"), "skip");
    let speaker = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "speaker.ready").unwrap();
    assert!(speaker["value"].as_str().unwrap().starts_with("espeak-ng 1."), "{text}");

    // A voice espeak-ng does not have: fails naming the key to fix; faults need the simulator.
    let config = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(&site.config, config.replace("driver = \"espeak-ng\"", "driver = \"espeak-ng\"\nvoice_en = \"xx-none\"")).unwrap();
    let (code, report, text) = diag(&site.config, &only);
    assert_eq!(code, 2, "{text}");
    assert_eq!(status_of(&report, "speaker.ready"), "fail");
    assert!(text.contains("speaker.voice_en"), "{text}");
    let (code, _, text) = diag(&site.config, &["--only", "speaker", "--simulate-fault", "speaker"]);
    assert_eq!(code, 2);
    assert!(text.contains("speaker.driver = \\\"simulator\\\"") || text.contains("speaker.driver = \"simulator\""), "{text}");
}
