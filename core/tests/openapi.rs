//! Property-based API tests of docs/openapi/core-sync.yaml against a running kiosk-core:
//! schemathesis (PyPI, pinned, installed by scripts/setup) generates valid and invalid requests
//! for every operation from the document and sends them over mutual TLS with a client
//! certificate of the kiosk CA. No answer may be a server error, every status must be one the
//! document lists for the operation, every JSON body must match its schema. Requests to the
//! kiosk endpoints that carry the kiosk headers are signed with the registered kiosk's key by a
//! hook (`schemathesis_hooks.py`), so generated bodies reach the checks behind the signature.

mod support;

use std::path::PathBuf;
use std::process::Command;
use support::{Gateway, TestCore};

/// The pinned schemathesis of scripts/setup (same search order).
fn schemathesis() -> PathBuf {
    let venv = match std::env::var_os("KIOSK_SCHEMATHESIS_VENV") {
        Some(v) => PathBuf::from(v),
        None if PathBuf::from("/var/cache/kiosk-schemathesis/bin/schemathesis").exists() => PathBuf::from("/var/cache/kiosk-schemathesis"),
        None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/kiosk/schemathesis"),
    };
    let exe = venv.join("bin/schemathesis");
    assert!(exe.exists(), "schemathesis missing in {}: run scripts/setup (pip install from PyPI)", venv.display());
    exe
}

#[test]
fn the_openapi_document_holds_against_the_running_server() {
    let exe = schemathesis();
    let core = TestCore::start();
    core.register("KIOSK-TEST", &core.kiosk.identity);
    let gateway = Gateway::start(&core.url, &core.files(), &[]);
    let (dir, kiosk) = (&core.dir, &core.kiosk);
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi/core-sync.yaml");
    let report = dir.path().join("report");
    let out = Command::new(&exe)
        .args(["run", spec, "--url", &gateway.api])
        .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
        .args(kiosk.pki.client_flags(["--tls-verify", "--request-cert", "--request-cert-key"]))
        // Reproducible: the same seed and budget every run.
        .args(["--seed", "20261207", "--max-examples", "50", "--workers", "2", "--phases", "examples,coverage,fuzzing"])
        .args(["--request-timeout", "20", "--no-color", "--report", "junit", "--report-dir"])
        .arg(&report)
        // Its cache of crashes goes into the temporary folder, not the source tree.
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", concat!(env!("CARGO_MANIFEST_DIR"), "/tests"))
        .env("KIOSK_TEST_SEED_HEX", hex::encode(kiosk.identity.signing_key().to_bytes()))
        .env("KIOSK_TEST_PUBLIC_HEX", kiosk.identity.public_key_hex())
        .env("KIOSK_TEST_KIOSK_ID", "KIOSK-TEST")
        .env("KIOSK_TEST_BASE_PATH", "/core")
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found responses that break docs/openapi/core-sync.yaml (above)");
    let junit = std::fs::read_dir(&report)
        .expect("schemathesis wrote its reports")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("junit"))
        .and_then(|e| std::fs::read_to_string(e.path()).ok())
        .expect("schemathesis wrote its JUnit report");
    // Every operation of the document was exercised.
    for operation in ["/v1/kiosk-messages", "/v1/kiosk-audit-heads", "/v1/activations", "/v1/authorisations"] {
        assert!(junit.contains(operation), "{operation} was not tested: {junit}");
    }
    assert!(!junit.contains("<failure"), "{junit}");
    // The signed requests got past the signature: refused for what their bodies held.
    let metrics = get(&format!("{}/metrics", gateway.ops));
    let past_signature = |endpoint: &str, reasons: &[&str]| {
        metrics.lines().any(|l| {
            l.starts_with("kiosk_core_refusals_total")
                && l.contains(&format!("endpoint=\"{endpoint}\""))
                && reasons.iter().any(|r| l.contains(&format!("reason=\"{r}\"")))
        })
    };
    let body_reasons = ["malformed_body", "message_id_mismatch", "kiosk_id_mismatch", "invalid_account", "invalid_choice", "invalid_heartbeat", "unknown_kind"];
    assert!(past_signature("kiosk-messages", &body_reasons), "no signed message reached the body checks:\n{metrics}");
    assert!(past_signature("kiosk-audit-heads", &["malformed_body", "anchor_mismatch", "invalid_head", "bad_head_signature"]), "{metrics}");
}

/// GET over plain HTTP (the ops listener).
fn get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (authority, path) = rest.split_once('/').map_or((rest, String::from("/")), |(a, p)| (a, format!("/{p}")));
    let mut tcp = std::net::TcpStream::connect(authority).unwrap();
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
}
