//! The key-encryption key as a systemd credential sealed to a TPM 2.0 (swtpm, started here):
//! `kiosk provision` seals it outside the data folder, the service reads it from
//! $CREDENTIALS_DIRECTORY, staff commands decrypt it with systemd-creds, another TPM cannot
//! open it, a key file in the data folder is refused, and an older install's file is moved
//! into the credential.

mod tpm_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tpm_support::Swtpm;

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

struct Site {
    tmp: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    sealed: PathBuf,
}

fn site() -> Site {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sealed = tmp.path().join("etc/credentials/kiosk-kek.cred");
    let config = tmp.path().join("site.toml");
    std::fs::write(
        &config,
        format!(
            "[kiosk]\ndata_dir = \"{}\"\n\n[store]\nkek = \"credential\"\nkek_credential = \"{}\"\nkek_seal = \"tpm2\"\n",
            data.display(),
            sealed.display()
        ),
    )
    .unwrap();
    Site { tmp, config, data, sealed }
}

fn kiosk(site: &Site, tpm: &Swtpm, args: &[&str], credentials: Option<&Path>) -> Output {
    tpm.power_cycle();
    let mut command = Command::new(KIOSK);
    command.arg("--config").arg(&site.config).args(args).env("SYSTEMD_TPM2_DEVICE", &tpm.device);
    match credentials {
        Some(dir) => command.env("CREDENTIALS_DIRECTORY", dir),
        None => command.env_remove("CREDENTIALS_DIRECTORY"),
    };
    command.output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn provision(site: &Site, tpm: &Swtpm) -> Output {
    let data = site.data.display().to_string();
    kiosk(site, tpm, &["provision", "--site", "T-01", "--data-dir", &data], None)
}

/// What systemd does for `LoadCredentialEncrypted=`: decrypt into a private folder.
fn hand_over(site: &Site, tpm: &Swtpm) -> PathBuf {
    let dir = site.tmp.path().join("run-credentials");
    std::fs::create_dir_all(&dir).unwrap();
    tpm.power_cycle();
    let out = Command::new("systemd-creds")
        .args(["decrypt", "--name=kiosk-kek"])
        .arg(&site.sealed)
        .arg(dir.join("kiosk-kek"))
        .env("SYSTEMD_TPM2_DEVICE", &tpm.device)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    std::fs::set_permissions(dir.join("kiosk-kek"), std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
    dir
}

#[test]
fn provision_seals_the_kek_to_the_tpm_outside_the_data_folder() {
    let tpm = Swtpm::start();
    let site = site();
    let out = provision(&site, &tpm);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("sealed with --with-key=tpm2") && text(&out).contains("created now"), "{}", text(&out));
    assert!(site.sealed.is_file());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&site.sealed).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!site.data.join("keys/kek.key").exists(), "no key-encryption key in the data folder");
    // The sealed blob is not the key: nothing in it is 64 hex characters of a key in clear.
    let blob = std::fs::read(&site.sealed).unwrap();
    let handed = hand_over(&site, &tpm);
    let key = std::fs::read_to_string(handed.join("kiosk-kek")).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(!String::from_utf8_lossy(&blob).contains(key.trim()), "the credential holds the key sealed, not in clear");

    // Staff (root) outside the unit: systemd-creds decrypts it with the same TPM.
    let verify = kiosk(&site, &tpm, &["audit", "verify"], None);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("audit chain intact"), "{}", text(&verify));
    // The service: the key comes from $CREDENTIALS_DIRECTORY.
    let verify = kiosk(&site, &tpm, &["audit", "verify"], Some(&handed));
    assert!(verify.status.success(), "{}", text(&verify));
    // A unit without LoadCredentialEncrypted= is told so.
    let empty = site.tmp.path().join("empty-credentials");
    std::fs::create_dir_all(&empty).unwrap();
    let verify = kiosk(&site, &tpm, &["audit", "verify"], Some(&empty));
    assert_eq!(verify.status.code(), Some(2));
    assert!(text(&verify).contains("LoadCredentialEncrypted=kiosk-kek"), "{}", text(&verify));

    // Provisioning again keeps the key.
    let again = provision(&site, &tpm);
    assert!(again.status.success() && text(&again).contains("already present, kept"), "{}", text(&again));
    assert_eq!(std::fs::read(&site.sealed).unwrap(), blob);

    // Another TPM (another kiosk, or this disk in another machine) cannot open it.
    let other = Swtpm::start();
    let verify = kiosk(&site, &other, &["audit", "verify"], None);
    assert_eq!(verify.status.code(), Some(2), "{}", text(&verify));
    assert!(text(&verify).contains("systemd-creds could not decrypt"), "{}", text(&verify));

    // A key file in the data folder is refused while the key is a credential.
    std::fs::create_dir_all(site.data.join("keys")).unwrap();
    std::fs::write(site.data.join("keys/kek.key"), key.trim()).unwrap();
    std::fs::set_permissions(site.data.join("keys/kek.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let verify = kiosk(&site, &tpm, &["audit", "verify"], Some(&handed));
    assert_eq!(verify.status.code(), Some(2));
    assert!(text(&verify).contains("lies in the data folder"), "{}", text(&verify));
}

#[test]
fn an_older_install_s_key_file_moves_into_the_credential() {
    let tpm = Swtpm::start();
    let site = site();
    // As installs before credentials did: the KEK in the data folder, a database under it.
    let file_config = site.tmp.path().join("file.toml");
    std::fs::write(&file_config, format!("[kiosk]\ndata_dir = \"{}\"\n\n[store]\nkek = \"file\"\n", site.data.display())).unwrap();
    let data = site.data.display().to_string();
    let out = Command::new(KIOSK)
        .arg("--config")
        .arg(&file_config)
        .args(["provision", "--site", "T-01", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let old_key = std::fs::read_to_string(site.data.join("keys/kek.key")).unwrap();
    let before = Command::new(KIOSK).arg("--config").arg(&file_config).args(["audit", "verify"]).output().unwrap();
    assert!(before.status.success(), "{}", text(&before));

    let out = provision(&site, &tpm);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("moved out of the data folder"), "{}", text(&out));
    assert!(!site.data.join("keys/kek.key").exists());
    let handed = hand_over(&site, &tpm);
    assert_eq!(std::fs::read_to_string(handed.join("kiosk-kek")).unwrap().trim(), old_key.trim(), "the same key");
    // The database (its data keys wrapped by that key) opens as before.
    let after = kiosk(&site, &tpm, &["audit", "verify"], Some(&handed));
    assert!(after.status.success(), "{}", text(&after));
}
