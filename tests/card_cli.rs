//! `kiosk card read` as a technician calls it, on the simulated reader (a real pty).

mod cli_support;

use cli_support::kiosk;

#[test]
fn reads_a_simulated_passport_as_json() {
    let (code, out, err) = kiosk(&["card", "read", "--simulate", "passport", "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["kind"], "passport");
    assert_eq!(report["mrz"]["surname"], "ERIKSSON");
    assert_eq!(report["chip_access"], "Bac");
    assert_eq!(report["access"], "BAC");
    assert_eq!(report["pace"], serde_json::Value::Null);
    assert_eq!(report["passive_authentication"]["verdict"], "ok");
    assert_eq!(report["chip_authentication"], "not_supported");
    assert_eq!(report["active_authentication"], "not_supported");
    assert_eq!((report["clone_suspected"].as_bool(), report["trusted"].as_bool()), (Some(false), Some(true)));
    assert_eq!(report["face_image"]["format"], "Jpeg");
    assert!(report["face_image"]["bytes"].as_u64().unwrap() > 20_000);
    // Personal data goes to stdout for the technician, never to the logs.
    assert!(!err.contains("ERIKSSON") && !err.contains("L898902C3"), "{err}");
}

#[test]
fn untrusted_passport_exits_1_and_says_why() {
    let (code, out, _) = kiosk(&["card", "read", "--simulate", "untrusted-passport"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("authentication FAILED") && out.contains("not in the CSCA trust store"), "{out}");
}

#[test]
fn a_can_that_is_not_digits_is_a_usage_error() {
    let (code, _, err) = kiosk(&["card", "read", "--simulate", "passport", "--can", "12a456"]);
    assert_eq!(code, 2);
    assert!(err.contains("--can"), "{err}");
}

#[test]
fn bank_cards_show_only_the_masked_number() {
    for card in ["bank-card", "bank-card-contactless"] {
        let (code, out, err) = kiosk(&["card", "read", "--simulate", card, "--json"]);
        assert_eq!(code, 0, "{err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["pan"], "411111******1111");
        assert_eq!(report["expiry"], "12/30");
        assert!(!out.contains("4111111111111111") && !err.contains("4111111111111111"));
    }
}

#[test]
fn missing_port_is_a_clear_error() {
    let (code, _, err) = kiosk(&["card", "read", "--port", "/dev/does-not-exist", "--wait", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("/dev/does-not-exist") && err.contains("card_reader.port"), "{err}");
}

#[test]
fn a_pace_passport_with_its_can_reports_pace_ca_and_aa() {
    let (code, out, err) = kiosk(&["card", "read", "--simulate", "pace-passport", "--can", "123456", "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["access"], "PACE");
    assert_eq!(report["pace"]["mapping"], "GM");
    assert_eq!(report["pace"]["parameter_id"], 13);
    assert_eq!(report["pace"]["password"], "can");
    assert_eq!(report["passive_authentication"]["verdict"], "ok");
    assert_eq!(report["passive_authentication"]["reason"], serde_json::Value::Null);
    assert_eq!(report["chip_authentication"], "passed");
    assert_eq!(report["active_authentication"], "passed");
    assert_eq!((report["clone_suspected"].as_bool(), report["trusted"].as_bool()), (Some(false), Some(true)));
    // Without --can the scanned MRZ keys PACE.
    let (code, out, err) = kiosk(&["card", "read", "--simulate", "pace-passport", "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["pace"]["password"], "mrz");
}

#[test]
fn a_cloned_chip_is_reported_and_exits_1() {
    let (code, out, err) = kiosk(&["card", "read", "--simulate", "cloned-passport", "--json"]);
    assert_eq!(code, 1, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passive_authentication"]["verdict"], "ok");
    assert_eq!(report["chip_authentication"], "passed");
    assert_eq!(report["active_authentication"], "failed");
    assert_eq!((report["clone_suspected"].as_bool(), report["trusted"].as_bool()), (Some(true), Some(false)));
}

#[test]
fn a_wrong_can_is_refused_with_a_clear_message() {
    let (code, _, err) = kiosk(&["card", "read", "--simulate", "pace-passport", "--can", "654321"]);
    assert_ne!(code, 0);
    assert!(err.contains("MRZ") || err.contains("CAN") || err.contains("refused"), "{err}");
}
