//! `POST /v1/activations`: the mobile app redeems the activation token shown as a QR code.
//! The token is checked as the kiosk made it (`kiosk::account::verify_token`: the issuing
//! kiosk's registered key, strict Ed25519, expiry); single use is the `activations` primary
//! key, so a replay through any gateway is a 409. Only a provisional account is activated.

use crate::error::CoreError;
use crate::http::Answer;
use crate::server::Core;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kiosk::account::{verify_token, TokenError};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use time::OffsetDateTime;

const ENDPOINT: &str = "activations";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    token: String,
}

fn refused(core: &Core, status: u16, reason: &'static str, message: String) -> Answer {
    core.metrics.refusal(ENDPOINT, reason);
    Answer::error(status, message)
}

/// The issuing kiosk's id, read before the signature can be checked (the key depends on it).
fn claimed_kiosk(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    value.get("kid")?.as_str().map(str::to_owned)
}

pub async fn activate(core: &Arc<Core>, body: &[u8]) -> Answer {
    match checked(core, body).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "activation not processed; answered 503");
            Answer::unavailable(&error)
        }
    }
}

async fn checked(core: &Arc<Core>, body: &[u8]) -> Result<Answer, CoreError> {
    let request: Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return Ok(refused(core, 400, "malformed_body", format!("expected {{\"token\": \"KA1....\"}}: {e}"))),
    };
    let Some(kiosk_id) = claimed_kiosk(&request.token) else {
        return Ok(refused(core, 400, "malformed_token", "activation token is malformed; scan the QR code again".into()));
    };
    let Some(key) = core.kiosk_key(&kiosk_id).await? else {
        return Ok(refused(core, 403, "unknown_kiosk", format!("the token names kiosk `{kiosk_id}`, which the bank has not registered")));
    };
    let claims = match verify_token(&key, &request.token, OffsetDateTime::now_utc()) {
        Ok(c) => c,
        Err(e @ TokenError::BadFormat(_)) => return Ok(refused(core, 400, "malformed_token", e.to_string())),
        Err(e @ TokenError::BadSignature) => return Ok(refused(core, 403, "bad_signature", e.to_string())),
        Err(e @ TokenError::BadClaims(_)) => return Ok(refused(core, 400, "malformed_token", e.to_string())),
        Err(e @ TokenError::Expired { .. }) => return Ok(refused(core, 410, "expired", e.to_string())),
        // A refusal the kiosk library adds later: the token is not usable as sent.
        Err(e) => return Ok(refused(core, 400, "malformed_token", e.to_string())),
    };
    let token_id = claims.token_id.to_string();
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt("SELECT state, activation_token_id, kiosk_id FROM accounts WHERE account_id = $1 FOR UPDATE", &[&claims.account_id])
        .await?;
    let Some(row) = row else {
        core.metrics.refusal(ENDPOINT, "account_pending");
        return Ok(Answer::error(
            425,
            format!("account {} has not reached the bank from its kiosk yet; try again in a few minutes", claims.account_id),
        )
        .retry_after(60));
    };
    let (state, account_token, owner): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    if account_token != token_id || owner != kiosk_id {
        return Ok(refused(core, 403, "foreign_token", "this token was not issued for this account".into()));
    }
    let inserted = tx
        .execute("INSERT INTO activations (token_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&token_id, &claims.account_id])
        .await?;
    if inserted == 0 {
        return Ok(refused(core, 409, "token_used", "this activation token was already used; each token activates its account once".into()));
    }
    if state != "provisional" {
        // Rolled back with the transaction: a refused token stays unused.
        let why = match state.as_str() {
            "blocked_duplicate" => "this person already has a demo account (same face at another kiosk); the account is blocked",
            "blocked_document" => "a demo account was already opened with this passport; the account is blocked",
            _ => "the account cannot be activated in its current state",
        };
        return Ok(refused(core, 403, "account_blocked", why.into()));
    }
    tx.execute("UPDATE accounts SET state = 'active', activated_at = now() WHERE account_id = $1", &[&claims.account_id]).await?;
    tx.commit().await?;
    tracing::info!(account_id = %claims.account_id, kiosk_id, "demo account activated");
    Ok(Answer::json(200, json!({ "account_id": claims.account_id, "state": "active", "limits": claims.limits })))
}
