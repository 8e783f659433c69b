//! Where the key-encryption key comes from (`store.kek`): a systemd credential on a kiosk,
//! never in the data folder; a 0600 file `<data_dir>/keys/kek.key` for the demo and tests.

use std::path::{Path, PathBuf};

use kiosk_config::{Config, KekSource};
use zeroize::Zeroizing;

use super::credential::{self, CredentialError, KEK_CREDENTIAL};
use super::file::read_secret;

/// The KEK file of `store.kek = "file"`.
pub fn file_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys/kek.key")
}

/// How the KEK is named in messages (never the key).
pub fn origin(config: &Config, data_dir: &Path) -> String {
    match config.store.kek {
        KekSource::Credential => format!("credential {KEK_CREDENTIAL} ({})", config.store.kek_credential.display()),
        KekSource::File => file_path(data_dir).display().to_string(),
    }
}

/// A KEK file in the data folder of a kiosk whose key is a credential is refused: the key must
/// never be where the service user, or a copy of its folder, can read it.
pub fn refuse_key_in_data_folder(data_dir: &Path) -> Result<(), CredentialError> {
    let stray = file_path(data_dir);
    if stray.exists() {
        return Err(CredentialError::KeyInDataFolder { path: stray });
    }
    Ok(())
}

/// The KEK as configured.
pub fn load(config: &Config, data_dir: &Path) -> Result<Zeroizing<[u8; 32]>, CredentialError> {
    match config.store.kek {
        KekSource::File => Ok(read_secret(&file_path(data_dir))?),
        KekSource::Credential => {
            refuse_key_in_data_folder(data_dir)?;
            credential::load(KEK_CREDENTIAL, &config.store.kek_credential)
        }
    }
}
