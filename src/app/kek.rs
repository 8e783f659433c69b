//! The key-encryption key as the configuration says (`store.kek`): a systemd credential on a
//! kiosk, never in the data folder; a 0600 file under `<data_dir>/keys/` for the demo and tests.

use std::path::Path;

use kiosk_config::{Config, KekSource};

use super::sync_cli::DataPaths;
use super::AppError;
use crate::keys::{credential, kek, KEK_CREDENTIAL};
use crate::store::{DataKey, KeyStore};

/// Opens the KEK for `kiosk run`, `kiosk sync` and `kiosk audit verify`.
pub fn open(config: &Config, data_dir: &Path) -> Result<KeyStore, AppError> {
    let secret = kek::load(config, data_dir)?;
    Ok(KeyStore::from_secret(&secret, kek::origin(config, data_dir)))
}

/// What provisioning did with the KEK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioned {
    Kept,
    Created,
    /// A KEK file from an older install, sealed into the credential and removed.
    MovedIntoCredential,
}

/// `kiosk provision`: the existing KEK, or a new one (refused over an existing database, whose
/// data only the old key opens).
pub fn provision(config: &Config, data_dir: &Path) -> Result<(KeyStore, Provisioned), AppError> {
    let paths = DataPaths::under(data_dir);
    let no_key_for_existing_data = |key: &str| {
        AppError::Usage(format!(
            "{} exists but its key-encryption key {key} does not: restore the key from escrow; a new key cannot open the existing data",
            paths.db.display()
        ))
    };
    match config.store.kek {
        KekSource::File => {
            if paths.kek.exists() {
                return Ok((KeyStore::open(&paths.kek)?, Provisioned::Kept));
            }
            if paths.db.exists() {
                return Err(no_key_for_existing_data(&paths.kek.display().to_string()));
            }
            Ok((KeyStore::create(&paths.kek)?, Provisioned::Created))
        }
        KekSource::Credential => {
            let sealed = &config.store.kek_credential;
            let with_key = config.store.kek_seal.as_str();
            if sealed.exists() {
                kek::refuse_key_in_data_folder(data_dir)?;
                let secret = credential::load(KEK_CREDENTIAL, sealed)?;
                return Ok((KeyStore::from_secret(&secret, kek::origin(config, data_dir)), Provisioned::Kept));
            }
            if paths.kek.exists() {
                // An install from before credentials: seal the same key, check it opens, then
                // remove the file (the data keys it wraps stay valid).
                let old = KeyStore::open(&paths.kek)?;
                credential::seal_new(KEK_CREDENTIAL, sealed, with_key, &old.kek_bytes())?;
                let secret = credential::load(KEK_CREDENTIAL, sealed)?;
                if *secret != *old.kek_bytes() {
                    return Err(AppError::Usage(format!("{} does not open to the key it was sealed from; keep {} and call support", sealed.display(), paths.kek.display())));
                }
                std::fs::remove_file(&paths.kek).map_err(|e| AppError::file(&paths.kek, e))?;
                return Ok((KeyStore::from_secret(&secret, kek::origin(config, data_dir)), Provisioned::MovedIntoCredential));
            }
            if paths.db.exists() {
                return Err(no_key_for_existing_data(&sealed.display().to_string()));
            }
            let fresh = DataKey::generate();
            credential::seal_new(KEK_CREDENTIAL, sealed, with_key, fresh.as_bytes())?;
            // Read back through systemd-creds: what the service will get.
            let secret = credential::load(KEK_CREDENTIAL, sealed)?;
            Ok((KeyStore::from_secret(&secret, kek::origin(config, data_dir)), Provisioned::Created))
        }
    }
}
