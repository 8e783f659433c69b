//! The kiosk's Ed25519 identity, which signs activation tokens (and later sync requests).

use super::file::{read_secret, write_new_secret, KeyFileError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand::rngs::OsRng;
use std::fmt;
use std::path::Path;
use thiserror::Error;
use zeroize::Zeroizing;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("kiosk signing key: {0}")]
    File(#[from] KeyFileError),
}

/// The signing key; `SigningKey` zeroizes its secret on drop.
pub struct KioskIdentity {
    signing: SigningKey,
}

impl fmt::Debug for KioskIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KioskIdentity").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

impl KioskIdentity {
    /// Loads the 32-byte seed (raw or hex) from a file only its owner can read.
    pub fn load(path: &Path) -> Result<KioskIdentity, KeyError> {
        let seed = read_secret(path)?;
        Ok(KioskIdentity { signing: SigningKey::from_bytes(&seed) })
    }

    /// Generates a fresh key and writes its seed to a new file with mode 0600.
    pub fn generate_to(path: &Path) -> Result<KioskIdentity, KeyError> {
        let signing = SigningKey::generate(&mut OsRng);
        let seed = Zeroizing::new(signing.to_bytes());
        write_new_secret(path, &seed)?;
        tracing::info!(public_key = %hex::encode(signing.verifying_key().as_bytes()), "generated kiosk signing key");
        Ok(KioskIdentity { signing })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key as hex, for registering the kiosk with the bank.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generate_then_load_gives_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.key");
        let made = KioskIdentity::generate_to(&path).unwrap();
        let loaded = KioskIdentity::load(&path).unwrap();
        assert_eq!(made.verifying_key(), loaded.verifying_key());
        assert!(!format!("{loaded:?}").contains(&hex::encode(loaded.signing_key().to_bytes())));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = KioskIdentity::load(&path).unwrap_err();
        assert!(err.to_string().contains("group/others"), "{err}");
    }
}
