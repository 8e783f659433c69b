//! Key material the store, the account and the sync share, kept apart from all three so none
//! of them imports another for it: 32-byte secret files (`file`), the kiosk's Ed25519 identity
//! (`identity`), and the key-encryption key handed over as a systemd credential (`credential`,
//! chosen by the configuration in `kek`).

pub mod credential;
pub mod file;
pub mod identity;
pub mod kek;

pub use credential::{CredentialError, KEK_CREDENTIAL};
pub use file::KeyFileError;
pub use identity::{KeyError, KioskIdentity};
