//! `kiosk trust import` and `kiosk trust list` on a trust folder of the simulator's test PKI.

mod cli_support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use cli_support::kiosk;
use kiosk_hal::card_reader::sim::{test_pki, TestPki};

fn site(dir: &Path) -> String {
    let trust = dir.join("csca");
    std::fs::create_dir_all(&trust).unwrap();
    std::fs::write(trust.join("ut-csca.der"), test_pki().csca_der()).unwrap();
    let config = dir.join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndata_dir = \"{}\"\n\n[card_reader]\ncsca_dir = \"{}\"\n",
            dir.display(),
            trust.display()
        ),
    )
    .unwrap();
    config.display().to_string()
}

fn list(config: &str) -> serde_json::Value {
    let (code, out, err) = kiosk(&["--config", config, "trust", "list", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn imports_crls_and_master_lists_and_refuses_what_does_not_chain() {
    let dir = tempfile::tempdir().unwrap();
    let config = site(dir.path());
    assert_eq!(list(&config)["cscas"].as_array().unwrap().len(), 1);

    // A CRL under any name is installed as *.crl.
    let now = SystemTime::now();
    let crl = dir.path().join("revocations.bin");
    std::fs::write(&crl, test_pki().crl(now - Duration::from_secs(60), now + Duration::from_secs(86_400)).unwrap()).unwrap();
    let (code, out, err) = kiosk(&["--config", &config, "trust", "import", crl.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(dir.path().join("csca/revocations.crl").exists());
    let report = list(&config);
    assert_eq!(report["crls"][0]["revoked"], 1);
    assert_eq!(report["crls"][0]["stale"], false);

    // A master list signed by the installed CSCA's signer adds the CSCAs it lists.
    let neighbour = TestPki::generate("neighbour").unwrap();
    let ml = dir.path().join("list.ml");
    std::fs::write(&ml, test_pki().master_list(&[neighbour.csca().clone()]).unwrap()).unwrap();
    let (code, out, err) = kiosk(&["--config", &config, "trust", "import", ml.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let report = list(&config);
    assert_eq!(report["cscas"].as_array().unwrap().len(), 2);
    assert_eq!(report["master_lists"][0]["accepted"], 1);
    // Importing the same file again changes nothing.
    let (code, out, _) = kiosk(&["--config", &config, "trust", "import", ml.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains("already installed"), "{out}");

    // A master list from a signer nobody installed is refused, and not copied.
    let rogue = TestPki::generate("rogue-publisher").unwrap();
    let bad = dir.path().join("rogue.ml");
    std::fs::write(&bad, rogue.master_list(&[rogue.csca().clone()]).unwrap()).unwrap();
    let (code, _, err) = kiosk(&["--config", &config, "trust", "import", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("not signed by a trusted master-list signer"), "{err}");
    assert!(!dir.path().join("csca/rogue.ml").exists());

    // Something that is no trust file at all.
    let junk = dir.path().join("notes.txt");
    std::fs::write(&junk, "hello").unwrap();
    let (code, _, err) = kiosk(&["--config", &config, "trust", "import", junk.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("neither an X.509 certificate, a CRL nor a CSCA master list"), "{err}");
    assert_eq!(list(&config)["cscas"].as_array().unwrap().len(), 2);

    // Text listing names the CRL and the master list.
    let (code, out, _) = kiosk(&["--config", &config, "trust", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("revocations.crl") && out.contains("list.ml") && out.contains("1 revoked"), "{out}");
}

#[test]
fn diag_warns_about_a_stale_crl_and_a_country_without_csca() {
    let dir = tempfile::tempdir().unwrap();
    let config = site(dir.path());
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    std::fs::write(dir.path().join("csca/old.crl"), test_pki().crl(now - 3 * day, now - day).unwrap()).unwrap();
    std::fs::write(dir.path().join("countries-seen"), "UT\nDE\n").unwrap();
    let (code, out, err) = kiosk(&["--config", &config, "diag", "--json", "--only", "trust"]);
    assert_eq!(code, 1, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let check = |id: &str| report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(check("trust.store")["status"], "ok");
    assert_eq!(check("trust.crl_fresh")["status"], "warn");
    assert!(check("trust.crl_fresh")["value"].as_str().unwrap().contains("old.crl"));
    assert_eq!(check("trust.countries")["status"], "warn");
    assert!(check("trust.countries")["value"].as_str().unwrap().contains("DE"));
    assert!(!check("trust.countries")["value"].as_str().unwrap().contains("UT"));
}
