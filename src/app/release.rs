//! `kiosk release keygen|sign|verify`: release manifests of file hashes signed with Ed25519.
//!
//! A release folder holds `SHA256SUMS` (`sha256sum` format, every file but the two manifest
//! files, sorted) and `SHA256SUMS.sig` (the raw 64-byte Ed25519 signature of `SHA256SUMS`).
//! Public keys are PEM SubjectPublicKeyInfo, so the install scripts verify with the system's
//! `openssl` rather than trusting the binary inside the release they check.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::AppError;

pub const MANIFEST: &str = "SHA256SUMS";
pub const SIGNATURE: &str = "SHA256SUMS.sig";
/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

fn public_key_pem(key: &VerifyingKey) -> String {
    let mut der = SPKI_PREFIX.to_vec();
    der.extend_from_slice(key.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
}

fn parse_public_key_pem(path: &Path) -> Result<VerifyingKey, AppError> {
    let bad = || AppError::Usage(format!("{}: not an Ed25519 public key in PEM (BEGIN PUBLIC KEY)", path.display()));
    let text = fs::read_to_string(path).map_err(|e| AppError::file(path, e))?;
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|_| bad())?;
    let key: [u8; 32] = der.strip_prefix(&SPKI_PREFIX[..]).and_then(|k| k.try_into().ok()).ok_or_else(bad)?;
    VerifyingKey::from_bytes(&key).map_err(|_| bad())
}

/// `kiosk release keygen --out FILE`: the signing seed (0600) and `FILE.pub`.
pub fn keygen(out: &Path) -> Result<(), AppError> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    crate::keys::file::write_new_secret(out, &key.to_bytes()).map_err(|e| AppError::Usage(e.to_string()))?;
    let public = PathBuf::from(format!("{}.pub", out.display()));
    fs::write(&public, public_key_pem(&key.verifying_key())).map_err(|e| AppError::file(&public, e))?;
    println!("release signing key {} (keep it offline), public key {}", out.display(), public.display());
    Ok(())
}

/// Every regular file under `dir` but the manifest files, as sorted relative paths. A symbolic
/// link or anything else is refused: a release is plain files.
fn release_files(dir: &Path) -> Result<Vec<String>, AppError> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), AppError> {
        let entries = fs::read_dir(dir).map_err(|e| AppError::file(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| AppError::file(dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| AppError::file(&path, e))?;
            let relative = path.strip_prefix(root).map_err(|e| AppError::internal(path.display().to_string(), e))?;
            let name = relative.to_str().filter(|n| n.chars().all(|c| c.is_ascii_graphic() && c != '\\'));
            let Some(name) = name else {
                return Err(AppError::Usage(format!("{}: file names in a release must be plain ASCII", path.display())));
            };
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else if kind.is_file() {
                if name != MANIFEST && name != SIGNATURE {
                    out.push(name.to_owned());
                }
            } else {
                return Err(AppError::Usage(format!("{}: a release holds regular files only (no links)", path.display())));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    Ok(files)
}

fn sha256_file(path: &Path) -> Result<String, AppError> {
    let bytes = fs::read(path).map_err(|e| AppError::file(path, e))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// `kiosk release sign --key FILE DIR`.
pub fn sign(key_file: &Path, dir: &Path) -> Result<(), AppError> {
    let seed = crate::keys::file::read_secret(key_file).map_err(|e| AppError::Usage(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    let mut manifest = String::new();
    let files = release_files(dir)?;
    for name in &files {
        manifest.push_str(&format!("{}  {name}\n", sha256_file(&dir.join(name))?));
    }
    let signature = key.sign(manifest.as_bytes());
    let write = |name: &str, bytes: &[u8]| fs::write(dir.join(name), bytes).map_err(|e| AppError::file(&dir.join(name), e));
    write(MANIFEST, manifest.as_bytes())?;
    write(SIGNATURE, &signature.to_bytes())?;
    println!("signed {} files in {}", files.len(), dir.display());
    Ok(())
}

/// `kiosk release verify --public-key FILE DIR`: the signature, every hash, and no file that
/// the manifest does not list. Returns the release's version (its `VERSION` file).
pub fn verify(public_key: &Path, dir: &Path) -> Result<String, AppError> {
    let key = parse_public_key_pem(public_key)?;
    let refuse = |why: String| AppError::Usage(format!("release {} refused: {why}", dir.display()));
    let manifest = fs::read(dir.join(MANIFEST)).map_err(|_| refuse(format!("no {MANIFEST}: the release is not signed")))?;
    let signature = fs::read(dir.join(SIGNATURE)).map_err(|_| refuse(format!("no {SIGNATURE}: the release is not signed")))?;
    let signature = Signature::from_slice(&signature).map_err(|_| refuse("the signature is not 64 bytes".into()))?;
    key.verify(&manifest, &signature)
        .map_err(|_| refuse(format!("the signature does not match {MANIFEST} and the trusted key {}", public_key.display())))?;
    let manifest = String::from_utf8(manifest).map_err(|_| refuse(format!("{MANIFEST} is not text")))?;
    let mut listed = Vec::new();
    for line in manifest.lines() {
        let (hash, name) = line.split_once("  ").ok_or_else(|| refuse(format!("malformed line in {MANIFEST}: {line}")))?;
        if name.starts_with('/') || name.split('/').any(|part| part == ".." || part.is_empty()) {
            return Err(refuse(format!("{name}: path outside the release")));
        }
        let path = dir.join(name);
        let actual = sha256_file(&path).map_err(|_| refuse(format!("{name} is listed but missing")))?;
        if actual != hash {
            return Err(refuse(format!("{name} was altered (sha256 {actual}, signed {hash})")));
        }
        listed.push(name.to_owned());
    }
    listed.sort();
    if let Some(extra) = release_files(dir)?.into_iter().find(|f| listed.binary_search(f).is_err()) {
        return Err(refuse(format!("{extra} is not in the signed manifest")));
    }
    let version = fs::read_to_string(dir.join("VERSION")).map(|v| v.trim().to_owned()).unwrap_or_default();
    println!("release {} verified: version {version}, {} files, signature by {}", dir.display(), listed.len(), public_key.display());
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_refuse_changes() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("signing.key");
        keygen(&key).unwrap();
        let release = dir.path().join("rel");
        fs::create_dir_all(release.join("bin")).unwrap();
        fs::write(release.join("VERSION"), "1.2.3\n").unwrap();
        fs::write(release.join("bin/kiosk"), b"binary").unwrap();
        let public = dir.path().join("signing.key.pub");
        assert!(verify(&public, &release).unwrap_err().to_string().contains("not signed"));
        sign(&key, &release).unwrap();
        assert_eq!(verify(&public, &release).unwrap(), "1.2.3");

        fs::write(release.join("extra"), b"x").unwrap();
        assert!(verify(&public, &release).unwrap_err().to_string().contains("extra is not in the signed manifest"));
        fs::remove_file(release.join("extra")).unwrap();
        fs::write(release.join("bin/kiosk"), b"evil").unwrap();
        assert!(verify(&public, &release).unwrap_err().to_string().contains("bin/kiosk was altered"));

        let other = dir.path().join("other.key");
        keygen(&other).unwrap();
        sign(&other, &release).unwrap();
        assert!(verify(&public, &release).unwrap_err().to_string().contains("signature does not match"));
    }
}
