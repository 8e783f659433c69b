//! The `kiosk` binary as its users call it: help, configuration errors, face verification.

mod cli_support;

use cli_support::kiosk;

#[test]
fn help_lists_every_subcommand_with_a_sentence() {
    let (code, out, _) = kiosk(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["demo", "face", "config", "token", "audit"] {
        assert!(out.contains(sub), "{sub} missing from help:\n{out}");
    }
    let (code, out, _) = kiosk(&["face", "verify", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--reference") && out.contains("--probe") && out.contains("Exit code"), "{out}");
}

#[test]
fn kiosk_run_refuses_simulators_and_the_test_csca_unless_a_demo_kiosk() {
    // The built-in configuration is all simulators and the test CSCA: no street kiosk.
    let (code, _, err) = kiosk(&["run", "--data-dir", "/nonexistent/kiosk-data"]);
    assert_eq!(code, 2, "{err}");
    for named in ["card_reader.driver", "camera.driver", "printer.driver", "TEST CSCA", "demo = true"] {
        assert!(err.contains(named), "{named} not named: {err}");
    }
}

#[test]
fn config_check_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("site.toml");
    std::fs::write(&bad, "[camera]\nwidth = 640\nframerate = 30\n").unwrap();
    let (code, _, err) = kiosk(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("site.toml:3") && err.contains("camera.framerate") && err.contains("burst_frames"),
        "{err}"
    );

    std::fs::write(&bad, "[account]\nper_transaction_limit_rub = 75000\n").unwrap();
    let (code, _, err) = kiosk(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("account.per_transaction_limit_rub") && err.contains("50000"), "{err}");

    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[kiosk]\ndemo = true\n\n[display]\nwidth = 1280\nheight = 800\n").unwrap();
    let (code, out, err) = kiosk(&["config", "check", good.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("valid (demo kiosk") && out.contains("allowed on a demo kiosk: camera.driver"), "{out}");

    // A key-encryption key kept as a file is demo-only, like the simulators.
    let file_kek = dir.path().join("file-kek.toml");
    std::fs::write(&file_kek, "[store]\nkek = \"file\"\n").unwrap();
    let (code, out, err) = kiosk(&["config", "check", file_kek.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("FAIL: store.kek") && err.contains("store.kek"), "{out}\n{err}");
    std::fs::write(&file_kek, "[kiosk]\ndemo = true\n[store]\nkek = \"file\"\n").unwrap();
    let (code, out, err) = kiosk(&["config", "check", file_kek.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("allowed on a demo kiosk: store.kek"), "{out}");
}

#[test]
fn face_scores_prints_every_face_and_every_pair() {
    let (code, out, err) = kiosk(&[
        "face",
        "scores",
        "--json",
        "models/faces/obama.jpg",
        "models/faces/obama2.jpg",
        "models/faces/biden.jpg",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["faces"].as_array().unwrap().len(), 3);
    let pairs = report["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 3);
    let cosine = |a: &str, b: &str| {
        pairs.iter().find(|p| p["a"].as_str().unwrap().contains(a) && p["b"].as_str().unwrap().contains(b)).unwrap()["cosine"]
            .as_f64()
            .unwrap()
    };
    assert!(cosine("obama.jpg", "obama2.jpg") > 0.7, "{out}");
    assert!(cosine("obama.jpg", "biden.jpg") < 0.3, "{out}");
    let (code, _, err) = kiosk(&["face", "scores", "no-such-picture.jpg"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn face_verify_tells_same_person_different_people_and_errors_apart() {
    let (code, out, err) = kiosk(&[
        "face",
        "verify",
        "--reference",
        "models/faces/obama.jpg",
        "--probe",
        "models/faces/obama2.jpg",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("SAME PERSON"), "{out}");

    let (code, out, _) = kiosk(&[
        "face",
        "verify",
        "--json",
        "--reference",
        "models/faces/obama.jpg",
        "--probe",
        "models/faces/biden.jpg",
    ]);
    assert_eq!(code, 1, "{out}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["match"]["same_person"], false);
    assert!(report["match"]["score"].as_f64().unwrap() < report["match"]["threshold"].as_f64().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.jpg");
    std::fs::write(&junk, b"not an image").unwrap();
    let (code, _, err) = kiosk(&[
        "face",
        "verify",
        "--reference",
        junk.to_str().unwrap(),
        "--probe",
        "models/faces/obama.jpg",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("junk.jpg") && err.contains("could not be decoded"), "{err}");
}

#[test]
fn face_liveness_classifies_the_pad_samples_and_refuses_faceless_images() {
    for (image, code) in [
        ("tests/data/pad-samples/image_F1.jpg", 1),
        ("tests/data/pad-samples/image_F2.jpg", 1),
        ("tests/data/pad-samples/image_T1.jpg", 0),
    ] {
        let (got, out, err) = kiosk(&["face", "liveness", image]);
        assert_eq!(got, code, "{image}: {out}{err}");
        assert!(out.contains(if code == 0 { "LIVE" } else { "ATTACK" }), "{out}");
    }
    let (code, out, _) = kiosk(&["face", "liveness", "--json", "tests/data/pad-samples/image_F2.jpg"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["liveness"]["live"], false);
    assert!(report["quality"]["gates"].as_array().is_some_and(|g| g.len() >= 9));

    // A picture with no face: a clear error and exit code 2, for both tools.
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("wall.png");
    let grey = image_of_a_wall();
    std::fs::write(&blank, grey).unwrap();
    let (code, _, err) = kiosk(&["face", "liveness", blank.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("wall.png") && err.contains("no face"), "{err}");
    let (code, _, err) = kiosk(&["face", "verify", "--reference", "models/faces/obama.jpg", "--probe", blank.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("no face"), "{err}");
}

/// A 64×48 mid-grey PNG.
fn image_of_a_wall() -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, 64, 48);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(&[128u8; 64 * 48 * 3]).unwrap();
    writer.finish().unwrap();
    out
}
