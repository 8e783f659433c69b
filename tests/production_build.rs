//! The production build (no cargo feature) links no simulator: `kiosk-hal` comes without its
//! `sim` feature, and none of the crates only the simulators need reaches the kiosk or the bank
//! core through it. Asked of cargo's own resolution (`cargo tree`, offline, as locked), so the
//! test fails the day a dependency or a default feature pulls a simulator back in.

use std::process::Command;

/// Crates kiosk-hal takes only for its simulators (hal/Cargo.toml, feature `sim`).
const SIMULATOR_ONLY: &[&str] =
    &["png", "rusttype", "des", "sha1", "sha2", "p256", "x509-cert", "cms", "der", "spki", "const-oid", "openssl"];

/// `cargo tree` of the production build of `package` (no features, no dev-dependencies).
fn tree(package: &str, extra: &[&str]) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["tree", "--offline", "--locked", "--prefix", "none", "-p", package, "-e", "normal,build"])
        .args(extra)
        .output()
        .expect("cargo runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_production_build_has_no_simulator() {
    for package in ["kiosk", "kiosk-core"] {
        let (ok, features) = tree(package, &["-e", "features", "-i", "kiosk-hal"]);
        assert!(ok, "{features}");
        assert!(features.contains("kiosk-hal feature \"default\""), "{package}: {features}");
        assert!(!features.contains("kiosk-hal feature \"sim\""), "{package} builds kiosk-hal with its simulators: {features}");
        assert!(!features.contains("kiosk feature \"demo\""), "{package} builds kiosk as a demo: {features}");
        for krate in SIMULATOR_ONLY {
            // Who depends on the crate; an error means it is not in the build at all.
            let (found, dependents) = tree(package, &["-i", krate]);
            assert!(
                !found || !dependents.lines().any(|l| l.starts_with("kiosk-hal ")),
                "{package}: {krate} reaches the production build through kiosk-hal:\n{dependents}"
            );
        }
    }
    // The demo build does hold them: the check above looks at the right thing.
    let (ok, demo) = tree("kiosk", &["--features", "demo", "-i", "p256"]);
    assert!(ok && demo.lines().any(|l| l.starts_with("kiosk-hal ")), "{demo}");
}

#[test]
fn this_test_build_is_a_demo_build_and_says_so() {
    const { assert!(kiosk::SIMULATORS_BUILT_IN && kiosk_hal::SIMULATORS_BUILT_IN) };
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk")).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.starts_with("kiosk 0.") && version.contains("(demo build: simulators built in)"), "{version}");
}
