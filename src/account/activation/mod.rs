//! The one-time activation token shown as a QR code, signed with the kiosk's Ed25519 key so the
//! bank can honour it before the sync arrives.
//!
//! Format: `KA1.<base64url(JSON claims)>.<base64url(Ed25519 signature over "KA1." + payload)>`,
//! unpadded base64url so the QR code stays small. The signature covers the exact payload bytes,
//! so the JSON never needs to be canonicalised. Single use is the store's job
//! (`Store::consume_activation_token` with [`Claims::token_id`]).

use super::demo_account::DemoAccount;
use super::limits::{LimitsPolicy, Operation};
use super::money::Kopecks;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const PREFIX: &str = "KA1";
/// Far above any real token (~600 characters); bounds work done on hostile input.
const MAX_TOKEN_LEN: usize = 4096;

/// Random 128-bit token id, shown as 32 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenId(pub [u8; 16]);

impl TokenId {
    pub fn random() -> TokenId {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TokenId(bytes)
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for TokenId {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<TokenId, hex::FromHexError> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(s, &mut bytes)?;
        Ok(TokenId(bytes))
    }
}

/// The limits as the bank sees them in the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitsSummary {
    pub per_transaction: Kopecks,
    pub daily: Kopecks,
    pub monthly: Kopecks,
    pub balance: Kopecks,
    pub operations: Vec<Operation>,
}

impl From<&LimitsPolicy> for LimitsSummary {
    fn from(p: &LimitsPolicy) -> Self {
        LimitsSummary {
            per_transaction: p.per_transaction_limit(),
            daily: p.daily_limit(),
            monthly: p.monthly_limit(),
            balance: p.balance_limit(),
            operations: p.allowed_operations().to_vec(),
        }
    }
}

/// What the token says. Times have whole-second precision once encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub token_id: TokenId,
    pub account_id: Uuid,
    pub kiosk_id: String,
    pub limits: LimitsSummary,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Readable form for people and logs (`kiosk token verify`); the token itself uses the compact
/// wire form.
impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};
        let rfc3339 = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339).map_err(S::Error::custom)
        };
        let mut st = s.serialize_struct("Claims", 6)?;
        st.serialize_field("token_id", &self.token_id)?;
        st.serialize_field("account_id", &self.account_id.to_string())?;
        st.serialize_field("kiosk_id", &self.kiosk_id)?;
        st.serialize_field("limits", &self.limits)?;
        st.serialize_field("issued_at", &rfc3339(self.issued_at)?)?;
        st.serialize_field("expires_at", &rfc3339(self.expires_at)?)?;
        st.end()
    }
}

impl Claims {
    /// Claims for a freshly issued account, with a new random token id, valid for `ttl`.
    pub fn for_account(account: &DemoAccount, kiosk_id: &str, now: OffsetDateTime, ttl: Duration) -> Claims {
        Claims {
            token_id: TokenId::random(),
            account_id: account.id,
            kiosk_id: kiosk_id.to_owned(),
            limits: LimitsSummary::from(&account.limits),
            issued_at: now,
            expires_at: now + ttl,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("activation token is malformed ({0}); scan the QR code again or issue a new token")]
    BadFormat(&'static str),
    #[error("activation token signature does not match this kiosk's key: the token was altered, forged or issued by another kiosk")]
    BadSignature,
    #[error("activation token is signed but its claims are invalid ({0}); issue a new token")]
    BadClaims(String),
    #[error("activation token expired at {expired_at} (unix seconds); issue a new token")]
    Expired { expired_at: i64 },
}

/// Short keys keep the QR code small.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireClaims {
    jti: String,
    acc: String,
    kid: String,
    lim: WireLimits,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireLimits {
    tx: u64,
    day: u64,
    mon: u64,
    bal: u64,
    ops: Vec<Operation>,
}

fn claims_json(claims: &Claims) -> String {
    // Built from plain values, whose encoding cannot fail, so issuing needs no error path.
    let mut lim = Map::new();
    lim.insert("tx".into(), claims.limits.per_transaction.get().into());
    lim.insert("day".into(), claims.limits.daily.get().into());
    lim.insert("mon".into(), claims.limits.monthly.get().into());
    lim.insert("bal".into(), claims.limits.balance.get().into());
    let ops: Vec<Value> = claims.limits.operations.iter().map(|op| op.as_str().into()).collect();
    lim.insert("ops".into(), ops.into());
    let mut map = Map::new();
    map.insert("jti".into(), claims.token_id.to_string().into());
    map.insert("acc".into(), claims.account_id.to_string().into());
    map.insert("kid".into(), claims.kiosk_id.clone().into());
    map.insert("lim".into(), lim.into());
    map.insert("iat".into(), claims.issued_at.unix_timestamp().into());
    map.insert("exp".into(), claims.expires_at.unix_timestamp().into());
    Value::Object(map).to_string()
}

/// Signs `claims` into the compact `KA1.` form for a QR code.
pub fn issue_token(key: &SigningKey, claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(claims_json(claims));
    let signed = format!("{PREFIX}.{payload}");
    let signature = key.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// Checks format, signature (strict Ed25519) and expiry, in that order, and returns the claims.
pub fn verify_token(key: &VerifyingKey, token: &str, now: OffsetDateTime) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::BadFormat("too long"));
    }
    let mut parts = token.split('.');
    let (Some(prefix), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::BadFormat("expected three dot-separated parts"));
    };
    if prefix != PREFIX {
        return Err(TokenError::BadFormat("unknown token version; expected KA1"));
    }
    let signature =
        URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::BadFormat("signature is not base64url"))?;
    let signature = Signature::from_slice(&signature)
        .map_err(|_| TokenError::BadFormat("signature has the wrong length"))?;
    let signed_len = prefix.len() + 1 + payload.len();
    let signed = token.get(..signed_len).ok_or(TokenError::BadFormat("truncated"))?;
    key.verify_strict(signed.as_bytes(), &signature).map_err(|_| TokenError::BadSignature)?;

    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::BadClaims("payload is not base64url".into()))?;
    let wire: WireClaims = serde_json::from_slice(&json).map_err(|e| TokenError::BadClaims(e.to_string()))?;
    let token_id =
        wire.jti.parse().map_err(|_| TokenError::BadClaims("token id is not 32 hex characters".into()))?;
    let account_id =
        Uuid::parse_str(&wire.acc).map_err(|_| TokenError::BadClaims("account id is not a UUID".into()))?;
    let time = |secs: i64, what: &str| {
        OffsetDateTime::from_unix_timestamp(secs)
            .map_err(|_| TokenError::BadClaims(format!("{what} out of range")))
    };
    let issued_at = time(wire.iat, "issued_at")?;
    let expires_at = time(wire.exp, "expires_at")?;
    if expires_at < issued_at {
        return Err(TokenError::BadClaims("expires before it was issued".into()));
    }
    if now >= expires_at {
        return Err(TokenError::Expired { expired_at: wire.exp });
    }
    Ok(Claims {
        token_id,
        account_id,
        kiosk_id: wire.kid,
        limits: LimitsSummary {
            per_transaction: Kopecks(wire.lim.tx),
            daily: Kopecks(wire.lim.day),
            monthly: Kopecks(wire.lim.mon),
            balance: Kopecks(wire.lim.bal),
            operations: wire.lim.ops,
        },
        issued_at,
        expires_at,
    })
}

#[cfg(test)]
mod tests;
