//! 32-byte secret files (the kiosk signing seed; the key-encryption key of the demo and tests):
//! created with mode 0600, refused when group or others can read or write them.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use thiserror::Error;
use zeroize::Zeroizing;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyFileError {
    #[error(
        "key file {path} does not exist; create it with `kiosk provision` (or check the configured path)"
    )]
    NotFound { path: PathBuf },
    #[error("key file {path} already exists; refusing to overwrite a key (move it away first if you really mean to replace it)")]
    AlreadyExists { path: PathBuf },
    #[error("key file {path} has mode {mode:o}, readable or writable by group/others; run `chmod 600 {path}` (owner root) and retry")]
    UnsafePermissions { path: PathBuf, mode: u32 },
    #[error("key file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("key file {path} must hold 32 bytes, raw or as 64 hex characters; it does not (restore it from backup or re-provision)")]
    BadContent { path: PathBuf },
    #[error("cannot access key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| match source.kind() {
        std::io::ErrorKind::NotFound => KeyFileError::NotFound { path: path.to_path_buf() },
        std::io::ErrorKind::AlreadyExists => KeyFileError::AlreadyExists { path: path.to_path_buf() },
        _ => KeyFileError::Io { path: path.to_path_buf(), source },
    }
}

/// Reads a 32-byte secret, raw or hex (surrounding whitespace allowed), after checking that only
/// the owner can access the file.
pub(crate) fn read_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, KeyFileError> {
    let meta = fs::metadata(path).map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile { path: path.to_path_buf() });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::UnsafePermissions { path: path.to_path_buf(), mode });
    }
    let mut raw = Zeroizing::new(Vec::with_capacity(130));
    fs::File::open(path).and_then(|f| f.take(130).read_to_end(&mut raw)).map_err(io_err(path))?;
    parse_secret(&raw).ok_or_else(|| KeyFileError::BadContent { path: path.to_path_buf() })
}

/// 32 raw bytes, or 64 hex characters with surrounding whitespace.
pub(crate) fn parse_secret(raw: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let mut secret = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        secret.copy_from_slice(raw);
        return Some(secret);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    hex::decode_to_slice(text, &mut secret[..]).ok()?;
    Some(secret)
}

/// Writes a new secret as hex with mode 0600; never overwrites an existing file. Atomic: the
/// secret goes to a side file, is synced, then linked into place (link fails if the name
/// exists), so a crash never leaves a half-written key under the real name.
pub(crate) fn write_new_secret(path: &Path, secret: &[u8; 32]) -> Result<(), KeyFileError> {
    if path.exists() {
        return Err(KeyFileError::AlreadyExists { path: path.to_path_buf() });
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    // Left by a crash during an earlier attempt; that secret was never used.
    let _ = fs::remove_file(&partial);
    let written = (|| {
        let mut file =
            OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial).map_err(io_err(&partial))?;
        // The umask can only remove bits, but be explicit in case the file system ignores `mode`.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(io_err(&partial))?;
        let mut text = Zeroizing::new(hex::encode(secret));
        text.push('\n');
        file.write_all(text.as_bytes()).map_err(io_err(&partial))?;
        file.sync_all().map_err(io_err(&partial))?;
        fs::hard_link(&partial, path).map_err(io_err(path))
    })();
    let _ = fs::remove_file(&partial);
    written?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the new name itself durable.
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_permission_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        write_new_secret(&path, &[7u8; 32]).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(*read_secret(&path).unwrap(), [7u8; 32]);
        assert!(matches!(write_new_secret(&path, &[1u8; 32]), Err(KeyFileError::AlreadyExists { .. })));
        assert_eq!(*read_secret(&path).unwrap(), [7u8; 32], "an existing key is never replaced");
        assert!(!dir.path().join("k.partial").exists());
        // A side file left by a crash does not block the next attempt.
        let fresh = dir.path().join("fresh");
        fs::write(dir.path().join("fresh.partial"), b"half").unwrap();
        write_new_secret(&fresh, &[3u8; 32]).unwrap();
        assert_eq!(*read_secret(&fresh).unwrap(), [3u8; 32]);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = read_secret(&path).unwrap_err();
        assert!(matches!(err, KeyFileError::UnsafePermissions { mode: 0o640, .. }));
        assert!(err.to_string().contains("chmod 600"));

        let raw = dir.path().join("raw");
        fs::write(&raw, [9u8; 32]).unwrap();
        fs::set_permissions(&raw, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(*read_secret(&raw).unwrap(), [9u8; 32]);

        fs::write(&raw, b"not a key").unwrap();
        assert!(matches!(read_secret(&raw), Err(KeyFileError::BadContent { .. })));
        assert!(matches!(read_secret(&dir.path().join("missing")), Err(KeyFileError::NotFound { .. })));
    }
}
