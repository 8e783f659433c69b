//! Active Authentication (ICAO 9303 Part 11 §6.1): the chip signs a challenge with the private
//! key of DG15's signed public key. RSA with ISO/IEC 9796-2 digital signature scheme 1, or
//! ECDSA with the algorithm DG14's ActiveAuthenticationInfo names. The challenge is bound to the
//! kiosk session (the caller's input, e.g. the audit chain head, and a fresh nonce), so the
//! kept answer later proves that this chip was present in this session.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use sha2::Digest;
use subtle::ConstantTimeEq;

use super::pa::HashAlgorithm;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AaFailure {
    #[error("the chip's Active Authentication signature does not verify with the DG15 key")]
    BadSignature,
    #[error("the chip's Active Authentication answer is malformed: {0}")]
    Malformed(String),
    #[error("Active Authentication with {0} is not supported")]
    Unsupported(String),
}

/// What proves the chip's presence: the challenge, how it was derived, the chip's answer.
#[derive(Clone, PartialEq, Eq)]
pub struct AaEvidence {
    pub challenge: [u8; 8],
    pub nonce: [u8; 16],
    pub signature: Vec<u8>,
}

impl std::fmt::Debug for AaEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AaEvidence {{ challenge: {}, signature: {} bytes }}", hex::encode(self.challenge), self.signature.len())
    }
}

/// The 8-byte challenge: SHA-256("kiosk-aa-v1" ‖ binding ‖ nonce), first 8 bytes.
pub fn challenge(binding: &[u8], nonce: &[u8; 16]) -> [u8; 8] {
    let mut hash = sha2::Sha256::new();
    hash.update(b"kiosk-aa-v1");
    hash.update((binding.len() as u64).to_be_bytes());
    hash.update(binding);
    hash.update(nonce);
    let digest = hash.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The hash of an ECDSA signature algorithm OID.
fn ecdsa_hash(oid: &str) -> Option<HashAlgorithm> {
    Some(match oid {
        "1.2.840.10045.4.1" => HashAlgorithm::Sha1,
        "1.2.840.10045.4.3.1" => HashAlgorithm::Sha224,
        "1.2.840.10045.4.3.2" => HashAlgorithm::Sha256,
        "1.2.840.10045.4.3.3" => HashAlgorithm::Sha384,
        "1.2.840.10045.4.3.4" => HashAlgorithm::Sha512,
        _ => return None,
    })
}

/// Verifies the chip's `signature` over `challenge` with the DG15 `key`.
pub fn verify(key: &PKey<Public>, algorithm: Option<&str>, challenge: &[u8; 8], signature: &[u8]) -> Result<(), AaFailure> {
    if let Ok(rsa) = key.rsa() {
        return verify_iso9796_2(&rsa, challenge, signature);
    }
    let ec = key.ec_key().map_err(|_| AaFailure::Unsupported("this DG15 key type".into()))?;
    // Without DG14's ActiveAuthenticationInfo an ECDSA key cannot be used (9303-11 §9.2.4).
    let algorithm = algorithm.ok_or_else(|| AaFailure::Unsupported("ECDSA without ActiveAuthenticationInfo in DG14".into()))?;
    let hash = ecdsa_hash(algorithm).ok_or_else(|| AaFailure::Unsupported(format!("signature algorithm {algorithm}")))?;
    let digest = hash.digest(challenge);
    let sig = if let Ok(der) = EcdsaSig::from_der(signature) {
        der
    } else {
        // The plain format of BSI TR-03111: r ‖ s, each as long as the order.
        if signature.is_empty() || signature.len() % 2 != 0 {
            return Err(AaFailure::Malformed(format!("ECDSA signature of {} bytes", signature.len())));
        }
        let (r, s) = signature.split_at(signature.len() / 2);
        let bn = |b: &[u8]| BigNum::from_slice(b).map_err(|_| AaFailure::Malformed("ECDSA signature".into()));
        EcdsaSig::from_private_components(bn(r)?, bn(s)?).map_err(|_| AaFailure::Malformed("ECDSA signature".into()))?
    };
    match sig.verify(&digest, &ec) {
        Ok(true) => Ok(()),
        _ => Err(AaFailure::BadSignature),
    }
}

/// ISO/IEC 9796-2 scheme 1 (message recovery): F = s^e mod n = header ‖ M1 ‖ H ‖ trailer, with
/// H = Hash(M1 ‖ challenge); trailer BC (SHA-1) or xx CC (hash named by xx).
fn verify_iso9796_2(rsa: &openssl::rsa::Rsa<Public>, challenge: &[u8; 8], signature: &[u8]) -> Result<(), AaFailure> {
    let size = rsa.size() as usize;
    if signature.len() != size {
        return Err(AaFailure::Malformed(format!("RSA signature of {} bytes for a {}-byte key", signature.len(), size)));
    }
    let mut f = vec![0u8; size];
    let n = rsa.public_decrypt(signature, &mut f, Padding::NONE).map_err(|_| AaFailure::BadSignature)?;
    f.truncate(n);
    let (hash, trailer_len) = match f.as_slice() {
        [.., 0xBC] => (HashAlgorithm::Sha1, 1),
        [.., id, 0xCC] => (
            match id {
                0x33 => HashAlgorithm::Sha1,
                0x34 => HashAlgorithm::Sha256,
                0x35 => HashAlgorithm::Sha512,
                0x36 => HashAlgorithm::Sha384,
                0x38 => HashAlgorithm::Sha224,
                other => return Err(AaFailure::Unsupported(format!("ISO/IEC 9796-2 hash identifier {other:02X}"))),
            },
            2,
        ),
        _ => return Err(AaFailure::BadSignature),
    };
    let hash_len = hash.digest(&[]).len();
    let header = *f.first().ok_or(AaFailure::BadSignature)?;
    if header & 0xC0 != 0x40 || f.len() < 1 + hash_len + trailer_len {
        return Err(AaFailure::BadSignature);
    }
    let digest_at = f.len() - trailer_len - hash_len;
    let m1 = f.get(1..digest_at).ok_or(AaFailure::BadSignature)?;
    let h = f.get(digest_at..f.len() - trailer_len).ok_or(AaFailure::BadSignature)?;
    // Partial recovery (header 6A): the challenge is the non-recoverable part M2.
    let expected = if header & 0x20 != 0 {
        hash.digest(&[m1, challenge.as_slice()].concat())
    } else {
        // Full recovery: the recovered message must be the challenge itself.
        let start = m1.iter().position(|&b| b != 0).unwrap_or(m1.len());
        if m1.get(start..) != Some(challenge.as_slice()) {
            return Err(AaFailure::BadSignature);
        }
        hash.digest(challenge)
    };
    if bool::from(expected.ct_eq(h)) {
        Ok(())
    } else {
        Err(AaFailure::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::rsa::Rsa;
    use proptest::prelude::*;

    /// The chip's side of ISO/IEC 9796-2 scheme 1 with SHA-1, partial recovery.
    fn sign_9796(rsa: &Rsa<openssl::pkey::Private>, challenge: &[u8; 8]) -> Vec<u8> {
        let size = rsa.size() as usize;
        let m1: Vec<u8> = (0..size - 22).map(|i| i as u8).collect();
        let h = HashAlgorithm::Sha1.digest(&[m1.as_slice(), challenge].concat());
        let mut f = vec![0x6A];
        f.extend(&m1);
        f.extend(&h);
        f.push(0xBC);
        let mut s = vec![0u8; size];
        rsa.private_encrypt(&f, &mut s, Padding::NONE).unwrap();
        s
    }

    #[test]
    fn rsa_9796_2_scheme_1() {
        let rsa = Rsa::generate(1024).unwrap();
        let public = PKey::from_rsa(Rsa::from_public_components(rsa.n().to_owned().unwrap(), rsa.e().to_owned().unwrap()).unwrap()).unwrap();
        let c = challenge(b"audit-head", &[1; 16]);
        let s = sign_9796(&rsa, &c);
        assert_eq!(verify(&public, None, &c, &s), Ok(()));
        let other = challenge(b"audit-head", &[2; 16]);
        assert_eq!(verify(&public, None, &other, &s), Err(AaFailure::BadSignature));
        // Another chip's key (a clone's) does not verify.
        let clone = Rsa::generate(1024).unwrap();
        assert_eq!(verify(&public, None, &c, &sign_9796(&clone, &c)), Err(AaFailure::BadSignature));
    }

    #[test]
    fn ecdsa_plain_signature() {
        let group = EcGroup::from_curve_name(Nid::BRAINPOOL_P256R1).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let public = PKey::from_ec_key(EcKey::from_public_key(&group, key.public_key()).unwrap()).unwrap();
        let c = challenge(b"x", &[9; 16]);
        let sig = EcdsaSig::sign(&HashAlgorithm::Sha256.digest(&c), &key).unwrap();
        let mut plain = sig.r().to_vec_padded(32).unwrap();
        plain.extend(sig.s().to_vec_padded(32).unwrap());
        assert_eq!(verify(&public, Some("1.2.840.10045.4.3.2"), &c, &plain), Ok(()));
        plain[5] ^= 1;
        assert_eq!(verify(&public, Some("1.2.840.10045.4.3.2"), &c, &plain), Err(AaFailure::BadSignature));
        assert!(matches!(verify(&public, None, &c, &plain), Err(AaFailure::Unsupported(_))));
    }

    #[test]
    fn challenge_binds_the_session() {
        assert_ne!(challenge(b"head-1", &[0; 16]), challenge(b"head-2", &[0; 16]));
        assert_ne!(challenge(b"head", &[0; 16]), challenge(b"head", &[1; 16]));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn garbage_signatures_never_verify(sig in proptest::collection::vec(any::<u8>(), 0..140)) {
            let rsa = Rsa::generate(1024).unwrap();
            let public = PKey::from_rsa(Rsa::from_public_components(rsa.n().to_owned().unwrap(), rsa.e().to_owned().unwrap()).unwrap()).unwrap();
            prop_assert!(verify(&public, None, &[0; 8], &sig).is_err());
        }
    }
}
