//! `kiosk provision --site SITE`: the kiosk's identity key, its key-encryption key (sealed as a
//! systemd credential, see `app::kek`) and data key (in a new database), and the public key fingerprint to register with the bank.
//! Idempotent: existing keys are kept and their fingerprint printed again; it never replaces
//! a key, because sealed data and issued tokens depend on it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::sync_cli::DataPaths;
use super::AppError;
use crate::account::KioskIdentity;
use crate::store::Store;

/// The file recording which site the kiosk was provisioned for.
const SITE_FILE: &str = "provisioned.toml";

/// What provisioning produced (also printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    pub site: String,
    pub public_key_hex: String,
    pub fingerprint: String,
    pub new_identity: bool,
}

/// `SHA256:` and the first 32 hex digits of the key's hash in groups of four: short enough to
/// read over the phone, long enough to be unique.
pub fn fingerprint(public_key: &[u8]) -> String {
    let hash = hex::encode(Sha256::digest(public_key));
    let groups: Vec<&str> = (0..8).map(|i| &hash[i * 4..i * 4 + 4]).collect();
    format!("SHA256:{}", groups.join("-"))
}

fn valid_site(site: &str) -> bool {
    (1..=32).contains(&site.len()) && site.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub fn run(config_file: Option<&Path>, data_dir: Option<&Path>, site: &str) -> Result<Provisioned, AppError> {
    let config = kiosk_config::load(config_file)?;
    if !valid_site(site) {
        return Err(AppError::Usage(format!("--site `{site}`: expected 1 to 32 letters, digits, '-' or '_'")));
    }
    let data_dir = data_dir.unwrap_or(&config.kiosk.data_dir);
    let site_file = data_dir.join(SITE_FILE);
    if let Ok(text) = fs::read_to_string(&site_file) {
        let recorded = text.lines().find_map(|l| l.strip_prefix("site = ")).map(|v| v.trim_matches('"').to_owned());
        if let Some(recorded) = recorded.filter(|r| r != site) {
            return Err(AppError::Usage(format!(
                "this kiosk is already provisioned for site `{recorded}` ({}); moving it to another site is a decommission and a new provisioning",
                site_file.display()
            )));
        }
    }
    let paths = DataPaths::under(data_dir);
    let keys_dir = data_dir.join("keys");
    fs::create_dir_all(&keys_dir).map_err(|e| AppError::file(&keys_dir, e))?;
    for dir in [data_dir, keys_dir.as_path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| AppError::file(dir, e))?;
    }
    let (keys, kek) = super::kek::provision(&config, data_dir)?;
    let (identity, new_identity) = if paths.identity.exists() {
        (KioskIdentity::load(&paths.identity)?, false)
    } else {
        (KioskIdentity::generate_to(&paths.identity)?, true)
    };
    // Opening creates the database with its schema and the first data key (wrapped by the KEK).
    drop(Store::open(&paths.db, &keys)?);
    let public_key_hex = identity.public_key_hex();
    let fingerprint = fingerprint(identity.verifying_key().as_bytes());
    let record = format!(
        "# Written by `kiosk provision`; register the public key with the bank.\nsite = \"{site}\"\nkiosk_id = \"{}\"\npublic_key = \"{public_key_hex}\"\nfingerprint = \"{fingerprint}\"\n",
        config.kiosk.id
    );
    fs::write(&site_file, record).map_err(|e| AppError::file(&site_file, e))?;
    println!("kiosk provision: site {site}, kiosk {}, data in {}", config.kiosk.id, data_dir.display());
    println!(
        "identity key: {} ({})",
        paths.identity.display(),
        if new_identity { "generated now" } else { "already present, kept" }
    );
    println!(
        "key-encryption key: {} ({})",
        match config.store.kek {
            kiosk_config::KekSource::Credential => format!(
                "systemd credential {}, sealed with --with-key={}",
                config.store.kek_credential.display(),
                config.store.kek_seal.as_str()
            ),
            kiosk_config::KekSource::File => paths.kek.display().to_string(),
        },
        match kek {
            super::kek::Provisioned::Kept => "already present, kept",
            super::kek::Provisioned::Created => "created now",
            super::kek::Provisioned::MovedIntoCredential => "moved out of the data folder into the credential",
        }
    );
    println!("public key: {public_key_hex}");
    println!("fingerprint: {fingerprint}");
    println!("Register the kiosk with the bank: send the kiosk id, the site and this fingerprint.");
    Ok(Provisioned { site: site.to_owned(), public_key_hex, fingerprint, new_identity })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_grouped_sha256() {
        let f = fingerprint(&[0u8; 32]);
        assert!(f.starts_with("SHA256:6668-7aad-f862-bd77-6c8f-c18b-8e9f-8e20"), "{f}");
        assert!(valid_site("MSK-TVERSKAYA_01"));
        assert!(!valid_site("a b"));
        assert!(!valid_site(""));
    }
}
