//! `kiosk-core kiosks register|list`: the bank's register of kiosks and their signing keys.
//! `register` takes what `kiosk provision` produced: its printed output or its
//! `provisioned.toml` (site, kiosk id, public key, fingerprint); the fingerprint is checked
//! against the key so a mistyped key is caught.

use crate::db::Client;
use crate::error::CoreError;
use sha2::{Digest, Sha256};

/// The fingerprint `kiosk provision` prints: SHA-256 of the key, first 32 hex digits in groups
/// of 4 (written again here so the bank side does not depend on the kiosk's app layer).
pub fn fingerprint(public_key: &[u8]) -> String {
    let hash = hex::encode(Sha256::digest(public_key));
    let groups: Vec<&str> = (0..8).map(|i| &hash[i * 4..i * 4 + 4]).collect();
    format!("SHA256:{}", groups.join("-"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub kiosk_id: String,
    pub site: String,
    pub public_key: [u8; 32],
    pub fingerprint: String,
}

fn unquote(v: &str) -> String {
    v.trim().trim_matches('"').to_owned()
}

/// Parses `kiosk provision`'s output or its `provisioned.toml`.
pub fn parse(text: &str) -> Result<Registration, CoreError> {
    let (mut kiosk_id, mut site, mut key, mut print) = (None, None, None, None);
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("kiosk provision: site ") {
            // `kiosk provision: site S, kiosk K, data in D`
            let mut parts = rest.split(", ");
            site = parts.next().map(str::to_owned);
            kiosk_id = parts.next().and_then(|p| p.strip_prefix("kiosk ")).map(str::to_owned);
        } else if let Some(v) = line.strip_prefix("public key:") {
            key = Some(unquote(v));
        } else if let Some(v) = line.strip_prefix("fingerprint:") {
            print = Some(unquote(v));
        } else if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "site" => site = Some(unquote(value)),
                "kiosk_id" => kiosk_id = Some(unquote(value)),
                "public_key" => key = Some(unquote(value)),
                "fingerprint" => print = Some(unquote(value)),
                _ => {}
            }
        }
    }
    let missing = |what: &str| CoreError::Usage(format!("no {what} in the input; pass the output of `kiosk provision` or its provisioned.toml"));
    let kiosk_id = kiosk_id.ok_or_else(|| missing("kiosk id"))?;
    let site = site.ok_or_else(|| missing("site"))?;
    let key_hex = key.ok_or_else(|| missing("public key"))?;
    let mut public_key = [0u8; 32];
    hex::decode_to_slice(&key_hex, &mut public_key)
        .map_err(|_| CoreError::Usage("public key must be 64 hex characters (an Ed25519 public key)".into()))?;
    ed25519_dalek::VerifyingKey::from_bytes(&public_key)
        .map_err(|_| CoreError::Usage("public key is not a valid Ed25519 point".into()))?;
    let expected = fingerprint(&public_key);
    if let Some(given) = &print {
        if *given != expected {
            return Err(CoreError::Usage(format!(
                "fingerprint {given} does not match the public key (its fingerprint is {expected}): the key was mistyped or changed"
            )));
        }
    }
    if kiosk_id.is_empty() || kiosk_id.len() > 64 {
        return Err(CoreError::Usage("kiosk id must have 1 to 64 characters".into()));
    }
    Ok(Registration { kiosk_id, site, public_key, fingerprint: expected })
}

/// What `register` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    New,
    Unchanged,
    Replaced,
}

/// Registers a kiosk; the same key again is a no-op; another key for a known kiosk only with
/// `replace` (a re-provisioned kiosk: its old key stops working at once).
pub async fn register(client: &Client, r: &Registration, replace: bool) -> Result<Registered, CoreError> {
    let existing = client.query_opt("SELECT public_key FROM kiosks WHERE kiosk_id = $1", &[&r.kiosk_id]).await?;
    match existing {
        Some(row) if row.get::<_, Vec<u8>>(0) == r.public_key => Ok(Registered::Unchanged),
        Some(_) if !replace => Err(CoreError::Usage(format!(
            "kiosk {} is registered with another key; if it was re-provisioned, run again with --replace",
            r.kiosk_id
        ))),
        Some(_) => {
            client
                .execute(
                    "UPDATE kiosks SET public_key = $2, site = $3, fingerprint = $4, registered_at = now() WHERE kiosk_id = $1",
                    &[&r.kiosk_id, &r.public_key.as_slice(), &r.site, &r.fingerprint],
                )
                .await?;
            Ok(Registered::Replaced)
        }
        None => {
            client
                .execute(
                    "INSERT INTO kiosks (kiosk_id, site, public_key, fingerprint) VALUES ($1, $2, $3, $4) ON CONFLICT (kiosk_id) DO NOTHING",
                    &[&r.kiosk_id, &r.site, &r.public_key.as_slice(), &r.fingerprint],
                )
                .await?;
            Ok(Registered::New)
        }
    }
}

/// (kiosk id, site, fingerprint) of every registered kiosk.
pub async fn list(client: &Client) -> Result<Vec<(String, String, String)>, CoreError> {
    Ok(client
        .query("SELECT kiosk_id, site, fingerprint FROM kiosks ORDER BY kiosk_id", &[])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_the_kiosks() {
        assert_eq!(fingerprint(&[0u8; 32]), "SHA256:6668-7aad-f862-bd77-6c8f-c18b-8e9f-8e20");
    }

    #[test]
    fn parses_provision_output_and_file_and_checks_the_fingerprint() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key();
        let hex_key = hex::encode(key.as_bytes());
        let print = fingerprint(key.as_bytes());
        let printed = format!(
            "kiosk provision: site MSK-01, kiosk K-7, data in /var/lib/kiosk\nidentity key: /x (generated now)\npublic key: {hex_key}\nfingerprint: {print}\n"
        );
        let file = format!("# Written by\nsite = \"MSK-01\"\nkiosk_id = \"K-7\"\npublic_key = \"{hex_key}\"\nfingerprint = \"{print}\"\n");
        for text in [printed.as_str(), file.as_str()] {
            let r = parse(text).unwrap();
            assert_eq!((r.kiosk_id.as_str(), r.site.as_str(), r.public_key), ("K-7", "MSK-01", *key.as_bytes()));
        }
        let wrong = file.replace(&print, "SHA256:0000-0000-0000-0000-0000-0000-0000-0000");
        assert!(parse(&wrong).unwrap_err().to_string().contains("does not match"));
        assert!(parse("site = \"x\"").unwrap_err().to_string().contains("no kiosk id"));
        let bad_key = file.replace(&hex_key, "zz");
        assert!(parse(&bad_key).unwrap_err().to_string().contains("64 hex"));
    }
}
