//! What of a configuration is not for a street kiosk: each simulated device, the test CSCA
//! (whose private key anyone can derive) in the trust folder, and a key-encryption key kept as a
//! file in the data folder (`store.kek = "file"`: readable by whoever reads the data it guards). `kiosk run` refuses to start
//! with any of them unless the site file declares a demo kiosk (`kiosk.demo = true`);
//! `kiosk config check` and `kiosk diag` name each one.
//!
//! The test CSCA is recognised by the SHA-256 of its DER, so this holds in a build without the
//! simulators (which could not make the certificate to compare with).

use std::path::Path;

use kiosk_config::{CameraDriver, CardReaderDriver, Config, DisplayDriver, InputDriver, KekSource, PrinterDriver, SpeakerDriver};
use sha2::{Digest, Sha256};

/// SHA-256 of the DER of the kiosk's test CSCA (`kiosk-config/csca/kiosk-test-csca.der`, made by
/// the card reader simulator's test PKI; a test checks both).
pub const TEST_CSCA_SHA256: &str = "90b2242899856c24cd5f7686436c4dca8b2416d18319cacaae672b6af3c2a75f";

/// One part of a configuration that must not serve people on a street kiosk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotForProduction {
    /// The configuration key to change (`camera.driver`, `card_reader.csca_dir`).
    pub key: &'static str,
    /// What it is, for a technician.
    pub what: String,
}

impl std::fmt::Display for NotForProduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.what)
    }
}

/// Simulated devices, test keys and a file KEK of `config`, in device order then keys; empty for a production kiosk.
pub fn not_for_production(config: &Config) -> Vec<NotForProduction> {
    let mut found = Vec::new();
    let mut sim = |simulated: bool, key: &'static str, what: &str| {
        if simulated {
            found.push(NotForProduction { key, what: format!("{what} (a simulator, not a device)") });
        }
    };
    sim(config.card_reader.driver == CardReaderDriver::Simulator, "card_reader.driver", "simulated card reader");
    sim(config.camera.driver == CameraDriver::Replay, "camera.driver", "replayed camera pictures");
    sim(config.display.driver == DisplayDriver::Memory, "display.driver", "memory display");
    sim(config.input.driver == InputDriver::Scripted, "input.driver", "scripted touch screen");
    sim(config.speaker.driver == SpeakerDriver::Simulator, "speaker.driver", "simulated speaker");
    sim(config.printer.driver == PrinterDriver::Simulator, "printer.driver", "simulated receipt printer");
    for file in test_cscas_in(&config.card_reader.csca_dir) {
        found.push(NotForProduction {
            key: "card_reader.csca_dir",
            what: format!("{file} is the TEST CSCA (SHA-256 {TEST_CSCA_SHA256}): anyone can sign a passport it trusts"),
        });
    }
    if config.store.kek == KekSource::File {
        found.push(NotForProduction {
            key: "store.kek",
            what: format!(
                "the key-encryption key is a file in the data folder ({}/keys/kek.key), beside the data it guards: \
                 use \"credential\" (sealed by `kiosk provision`, handed over by systemd)",
                config.kiosk.data_dir.display()
            ),
        });
    }
    found
}

/// Files of `dir` that are the test CSCA (an unreadable folder holds none: loading it fails later).
fn test_cscas_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| std::fs::read(p).is_ok_and(|bytes| is_test_csca(&bytes)))
        .map(|p| p.display().to_string())
        .collect();
    files.sort();
    files
}

/// True for the test CSCA, as DER or as PEM.
pub fn is_test_csca(bytes: &[u8]) -> bool {
    let der = pem_body(bytes).unwrap_or_else(|| bytes.to_vec());
    hex::encode(Sha256::digest(&der)) == TEST_CSCA_SHA256
}

/// The DER inside a PEM certificate, `None` when `bytes` are not PEM.
fn pem_body(bytes: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(bytes).ok()?;
    let start = text.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = text[start..].find("-----END CERTIFICATE-----")? + start;
    let body: String = text[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// `kiosk run` refused: the configuration has simulated devices or test keys and is no demo.
#[derive(Debug, thiserror::Error)]
#[error(
    "this configuration is not for a street kiosk and `kiosk.demo` is not set: {list}. \
     Configure the real devices, the CSCA masterlist and `store.kek = \"credential\"` (see deploy/site.example.toml), \
     or set `demo = true` under [kiosk] for a demo kiosk",
    list = .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
)]
pub struct NotProductionError(pub Vec<NotForProduction>);

/// Ok for a demo kiosk or a configuration with nothing simulated and no test key.
pub fn check_production(config: &Config) -> Result<(), NotProductionError> {
    let found = not_for_production(config);
    if config.kiosk.demo || found.is_empty() {
        Ok(())
    } else {
        Err(NotProductionError(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(site: &str) -> Config {
        kiosk_config::load_str(Some((Path::new("site.toml"), site))).unwrap()
    }

    #[test]
    fn the_fingerprint_is_the_test_pki_csca_and_the_shipped_file() {
        let pki = kiosk_hal::card_reader::sim::test_pki();
        assert!(is_test_csca(pki.csca_der()));
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("kiosk-config/csca/kiosk-test-csca.der");
        assert!(is_test_csca(&std::fs::read(file).unwrap()));
        use base64::Engine as _;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(pki.csca_der())
        );
        assert!(is_test_csca(pem.as_bytes()));
        assert!(!is_test_csca(b"not a certificate"));
    }

    #[test]
    fn every_simulated_device_and_the_test_csca_are_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zz-test.der"), kiosk_hal::card_reader::sim::test_pki().csca_der()).unwrap();
        std::fs::write(dir.path().join("real.der"), b"some other certificate").unwrap();
        let c = config(&format!("[card_reader]\ncsca_dir = \"{}\"\n", dir.path().display()));
        let keys: Vec<_> = not_for_production(&c).iter().map(|f| f.key).collect();
        assert_eq!(
            keys,
            [
                "card_reader.driver",
                "camera.driver",
                "display.driver",
                "input.driver",
                "speaker.driver",
                "printer.driver",
                "card_reader.csca_dir"
            ]
        );
        let err = check_production(&c).unwrap_err().to_string();
        assert!(err.contains("zz-test.der") && err.contains(TEST_CSCA_SHA256) && err.contains("demo = true"), "{err}");
        assert!(!err.contains("real.der"), "{err}");
        // Declared a demo kiosk: allowed, and still listed for diag to say so.
        let demo = config(&format!("[kiosk]\ndemo = true\n[card_reader]\ncsca_dir = \"{}\"\n", dir.path().display()));
        assert!(check_production(&demo).is_ok());
        assert_eq!(not_for_production(&demo).len(), 7);
    }

    #[test]
    fn a_key_encryption_key_as_a_file_is_for_a_demo_kiosk_only() {
        let c = config("[store]\nkek = \"file\"\n");
        let found = not_for_production(&c);
        assert_eq!(found.last().map(|f| f.key), Some("store.kek"));
        let err = check_production(&c).unwrap_err().to_string();
        assert!(err.contains("store.kek") && err.contains("keys/kek.key") && err.contains("demo = true"), "{err}");
        let demo = config("[kiosk]\ndemo = true\n[store]\nkek = \"file\"\n");
        assert!(check_production(&demo).is_ok());
        assert!(not_for_production(&demo).iter().any(|f| f.key == "store.kek"), "still named for diag");
        // The default (a systemd credential) is none of them.
        assert!(!not_for_production(&config("")).iter().any(|f| f.key == "store.kek"));
    }

    #[test]
    fn the_example_site_file_is_a_production_kiosk() {
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/site.example.toml");
        let text = std::fs::read_to_string(&example).unwrap();
        let c = kiosk_config::load_str(Some((&example, &text))).unwrap();
        assert!(!c.kiosk.demo);
        assert_eq!(not_for_production(&c), Vec::new());
        assert!(check_production(&c).is_ok());
    }
}
