//! The key-encryption key as a systemd credential, so it never lies in clear on disk nor in the
//! service's data folder.
//!
//! `kiosk provision` (root) seals a new key with `systemd-creds encrypt --with-key=…` into
//! `store.kek_credential` (`/etc/kiosk/credentials/kiosk-kek.cred`, root-only): bound to the
//! kiosk's TPM 2.0 when it has one (and the host key, `auto`), else to the host key
//! `/var/lib/systemd/credential.secret` alone. systemd decrypts it for the service at each start
//! (`LoadCredentialEncrypted=kiosk-kek:…` in deploy/kiosk.service) into
//! `$CREDENTIALS_DIRECTORY/kiosk-kek`, a non-swappable in-memory file only the service can read.
//! Staff commands run as root outside the unit (`kiosk sync`, `kiosk audit verify`) decrypt
//! the same file with `systemd-creds decrypt`. The sealing is systemd's (maintained, audited,
//! already on every Debian kiosk): no TPM code of our own, no FFI.

use super::file::{parse_secret, read_secret, KeyFileError};
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use thiserror::Error;
use zeroize::Zeroizing;

/// The credential's name: in the unit's `LoadCredentialEncrypted=` and inside the sealed blob
/// (`systemd-creds` refuses a blob decrypted under another name).
pub const KEK_CREDENTIAL: &str = "kiosk-kek";

/// Environment variable through which systemd says where the service's credentials are.
const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("the service was started without the credential `{name}` ($CREDENTIALS_DIRECTORY/{name} is missing); the unit needs `LoadCredentialEncrypted={name}:<sealed file>` (deploy/kiosk.service)")]
    NotHanded { name: String },
    #[error("sealed credential {path} does not exist; run `kiosk provision` as root to create it (or check store.kek_credential)")]
    NotProvisioned { path: PathBuf },
    #[error("sealed credential {path} already exists; refusing to replace a key (move it away first if you really mean to)")]
    AlreadyExists { path: PathBuf },
    #[error("systemd-creds could not {verb} {path}: {detail}; it must run as root, on the kiosk whose TPM/host key sealed it")]
    Tool { verb: &'static str, path: PathBuf, detail: String },
    #[error("cannot run systemd-creds ({source}); it comes with systemd (Debian 12: package systemd)")]
    Spawn { source: std::io::Error },
    #[error("credential {path} does not hold a 32-byte key (raw or 64 hex characters); re-provision or restore it from escrow")]
    BadContent { path: PathBuf },
    #[error("{path} lies in the data folder although store.kek = \"credential\"; run `kiosk provision` (as root) to move it into the sealed credential")]
    KeyInDataFolder { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    File(#[from] KeyFileError),
}

impl CredentialError {
    /// What the caller can do about it.
    pub fn kind(&self) -> CredentialErrorKind {
        match self {
            CredentialError::NotHanded { .. } | CredentialError::NotProvisioned { .. } => CredentialErrorKind::Missing,
            CredentialError::AlreadyExists { .. } | CredentialError::KeyInDataFolder { .. } => {
                CredentialErrorKind::Exists
            }
            CredentialError::Tool { .. } | CredentialError::BadContent { .. } => CredentialErrorKind::Unsealable,
            CredentialError::Spawn { .. } | CredentialError::Io { .. } | CredentialError::File(_) => {
                CredentialErrorKind::Io
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialErrorKind {
    /// Not provisioned, or not handed to the service: provision / fix the unit.
    Missing,
    /// Provisioning would replace a key, or a key lies where it must not.
    Exists,
    /// The blob does not open here (another TPM or host key, tampered, wrong name).
    Unsealable,
    Io,
}

/// The credential as systemd handed it to this process, when it did.
pub fn handed_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(CREDENTIALS_DIRECTORY).map(|dir| PathBuf::from(dir).join(name))
}

/// The key: from `$CREDENTIALS_DIRECTORY` inside the unit (where it must be), else decrypted
/// from `sealed` with `systemd-creds` (staff commands run as root).
pub fn load(name: &str, sealed: &Path) -> Result<Zeroizing<[u8; 32]>, CredentialError> {
    if let Some(path) = handed_path(name) {
        return match read_secret(&path) {
            Err(KeyFileError::NotFound { .. }) => Err(CredentialError::NotHanded { name: name.to_owned() }),
            other => Ok(other?),
        };
    }
    if !sealed.is_file() {
        return Err(CredentialError::NotProvisioned { path: sealed.to_path_buf() });
    }
    let mut name_arg = std::ffi::OsString::from("--name=");
    name_arg.push(name);
    let plain = systemd_creds("decrypt", sealed, &[name_arg.as_os_str(), sealed.as_os_str(), OsStr::new("-")], None)?;
    parse_secret(&plain).ok_or_else(|| CredentialError::BadContent { path: sealed.to_path_buf() })
}

/// Seals a new key into `sealed` (mode 0600, its folder 0700); never replaces one. `with_key`
/// is `systemd-creds --with-key` (`auto`, `tpm2`, `host+tpm2`, `host`). The key reaches
/// systemd-creds on its stdin, never a file.
pub fn seal_new(name: &str, sealed: &Path, with_key: &str, secret: &[u8; 32]) -> Result<(), CredentialError> {
    if sealed.exists() {
        return Err(CredentialError::AlreadyExists { path: sealed.to_path_buf() });
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CredentialError::Io { path, source }
    };
    if let Some(dir) = sealed.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
    }
    let mut partial = sealed.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = fs::remove_file(&partial);
    let args: Vec<std::ffi::OsString> = vec![
        format!("--name={name}").into(),
        format!("--with-key={with_key}").into(),
        "-".into(),
        partial.clone().into(),
    ];
    let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    let mut text = Zeroizing::new(hex::encode(secret));
    text.push('\n');
    let result = systemd_creds("encrypt", sealed, &args, Some(text.as_bytes()))
        .and_then(|_| fs::set_permissions(&partial, fs::Permissions::from_mode(0o600)).map_err(io(&partial)))
        // No clobbering: the link fails if the name appeared meanwhile.
        .and_then(|()| fs::hard_link(&partial, sealed).map_err(io(sealed)));
    let _ = fs::remove_file(&partial);
    result?;
    if let Some(dir) = sealed.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    }
    tracing::info!(path = %sealed.display(), with_key, "sealed the key-encryption key as a systemd credential");
    Ok(())
}

/// Runs `systemd-creds <verb> <args>`, feeding `input`, returning stdout (zeroized on drop).
fn systemd_creds(
    verb: &'static str,
    path: &Path,
    args: &[&OsStr],
    input: Option<&[u8]>,
) -> Result<Zeroizing<Vec<u8>>, CredentialError> {
    let mut child = Command::new("systemd-creds")
        .arg(verb)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CredentialError::Spawn { source })?;
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(bytes).map_err(|source| CredentialError::Spawn { source })?;
    }
    let mut out = Zeroizing::new(Vec::new());
    if let Some(mut stdout) = child.stdout.take() {
        // At most a small key; anything longer is not ours.
        stdout.by_ref().take(4096).read_to_end(&mut out).map_err(|source| CredentialError::Spawn { source })?;
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|source| CredentialError::Spawn { source })?;
    if !status.success() {
        // The last line says why; the PCR notes before it are systemd's warnings.
        let detail = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        return Err(CredentialError::Tool { verb, path: path.to_path_buf(), detail });
    }
    Ok(out)
}
