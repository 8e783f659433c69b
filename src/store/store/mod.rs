//! The store: one SQLite file, sealed personal data, every onboarding written atomically.

use super::audit::{self, AuditError, AuditReport};
use super::keystore::{AuditKey, KeyStore, KeyStoreError};
use super::migrations::{migrate, MigrationError};
use super::record::{OnboardingRecord, Outcome, PersonalData};
use super::seal::{KeyRing, SealContext, SealError};
use base64::Engine as _;
use crate::account::demo_account::uuid_v7_at;
use crate::account::{LimitsPolicy, TokenId};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use thiserror::Error;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Outbox kind for a newly opened account.
pub const OUTBOX_ACCOUNT_OPENED: &str = "account_opened";

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open database {path}: {source}; check the path, free space and permissions")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{what}: {source}")]
    Seal { what: &'static str, source: SealError },
    #[error("cannot encode {what} as JSON: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
    #[error("onboarding record not stored: {0} (a bug in the caller)")]
    InvalidRecord(&'static str),
    #[error("{table} row is corrupt ({what}); restore the database from backup")]
    Corrupt { table: &'static str, what: &'static str },
    #[error("data key {key_id} was destroyed after rotation by another process; reopen the store (restart the kiosk) to load the current key, then retry")]
    KeyDestroyed { key_id: u32 },
    #[error("activation token is not known to this kiosk; it was issued elsewhere or never recorded")]
    TokenUnknown,
    #[error("activation token was already used; each token activates its account once")]
    TokenAlreadyUsed,
    #[error("social payments choice for an account this store does not have; record the onboarding first (a bug in the caller)")]
    ChoiceAccountUnknown,
    #[error("a social payments choice is already recorded for this account; it is asked once, a change of mind goes to the bank or SFR")]
    ChoiceAlreadyRecorded,
}

/// The `account_opened` message for the bank core (sealed in the outbox).
#[derive(Serialize)]
struct AccountOpened<'a> {
    onboarding_id: &'a str,
    account_id: &'a str,
    created_at_ms: i64,
    limits: &'a LimitsPolicy,
    activation_token_id: String,
    consent_version: &'a str,
    consent_sha256: String,
    personal: Option<&'a PersonalData>,
    /// base64 of the template's little-endian f32 values: the bank searches it against every
    /// template of the fleet (one demo account per person). Zeroized with the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    face_template: Option<&'a str>,
}

pub struct Store {
    pub(super) conn: Connection,
    pub(super) keys: KeyRing,
    pub(super) audit_key: AuditKey,
    lookup_key: super::LookupKey,
    /// To load the data keys another connection added (a rotation by the service's upkeep).
    kek: KeyStore,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch; the range of `OffsetDateTime` always fits.
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Now, in the store's time unit.
pub fn unix_ms_now() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

pub(super) fn ctx<'a>(table: &'a str, column: &'a str, record_id: &'a str) -> SealContext<'a> {
    SealContext { table, column, record_id }
}

pub(super) fn parse_uuid(text: &str, table: &'static str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt { table, what: "id is not a UUID" })
}

/// A stored template's birth-date bucket (`None`: enrolled before buckets) and its values.
pub type EnrolledFace = (Option<super::LookupDigest>, Vec<f32>);

impl Store {
    /// Opens (or creates) the database, applies migrations and unwraps the data keys with `keys`.
    pub fn open(db_path: &Path, keys: &KeyStore) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open { path: db_path.to_path_buf(), source };
        let mut conn = Connection::open(db_path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open_err)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "database refused WAL journal mode");
        }
        // FULL: an acknowledged outbox row survives power loss. secure_delete: freed pages are
        // zeroed, so purged sealed data leaves nothing behind. temp_store: sorts and temporary
        // tables stay in memory, never in a temp file.
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;",
        )
            .map_err(open_err)?;
        migrate(&mut conn)?;
        let audit_key = keys.audit_key();
        let lookup_key = keys.lookup_key();
        let kek = keys.clone();
        let keys = keys.load_ring(&mut conn, unix_ms(OffsetDateTime::now_utc()))?;
        for suffix in ["", "-wal", "-shm"] {
            restrict_permissions(Path::new(&format!("{}{suffix}", db_path.display())));
        }
        Ok(Store { conn, keys, audit_key, lookup_key, kek })
    }

    /// Loads the data keys again when another connection rotated (a newer key exists), so new
    /// records are sealed with the active key, never with one retired and later destroyed.
    pub(super) fn follow_rotation(&mut self) -> Result<(), StoreError> {
        let newest: Option<i64> = self.conn.query_row("SELECT MAX(key_id) FROM data_keys", [], |r| r.get(0))?;
        let active = self.keys.active_id().map(|k| i64::from(k.0));
        if newest > active {
            self.keys = self.kek.load_ring(&mut self.conn, unix_ms(OffsetDateTime::now_utc()))?;
            tracing::info!(key_id = newest, "loaded the data key another process rotated in");
        }
        Ok(())
    }

    pub(super) fn seal(&self, what: &'static str, c: &SealContext<'_>, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.keys.seal(c, plain).map_err(|source| StoreError::Seal { what, source })
    }

    pub(super) fn open_sealed(
        &self,
        what: &'static str,
        c: &SealContext<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.keys.open(c, sealed).map_err(|source| StoreError::Seal { what, source })
    }

    /// Writes the onboarding, and for an issued account the account, the sealed face template,
    /// the sealed outbox message and the audit events: all in one transaction, or nothing.
    pub fn record_onboarding(&mut self, r: &OnboardingRecord) -> Result<(), StoreError> {
        self.follow_rotation()?;
        let (reason, issued) = match (&r.outcome, &r.account) {
            (Outcome::Refused(_), Some(_)) => {
                return Err(StoreError::InvalidRecord("a refused onboarding has an account"))
            }
            (Outcome::Refused(_), None) if r.face_template.is_some() => {
                return Err(StoreError::InvalidRecord("a refused onboarding has a face template"))
            }
            (Outcome::Refused(reason), None) => (Some(reason.as_str()), None),
            (Outcome::AccountIssued, None) => {
                return Err(StoreError::InvalidRecord("account issued but no account given"))
            }
            (Outcome::AccountIssued, Some(_)) if r.personal.is_none() => {
                return Err(StoreError::InvalidRecord("account issued but no personal data for the bank"))
            }
            (Outcome::AccountIssued, Some(issued)) => (None, Some(issued)),
        };
        let id = r.id.to_string();
        let finished = unix_ms(r.finished_at);
        let document_sealed = match &r.personal {
            None => None,
            Some(p) => {
                let json = Zeroizing::new(
                    serde_json::to_vec(p)
                        .map_err(|source| StoreError::Encode { what: "personal data", source })?,
                );
                Some(self.seal("document data", &ctx("onboardings", "document_sealed", &id), &json)?)
            }
        };
        // Seal everything before the transaction so it stays short.
        let mut account_rows = None;
        if let Some(issued) = issued {
            let account_id = issued.account.id.to_string();
            let limits_json = serde_json::to_string(&issued.account.limits)
                .map_err(|source| StoreError::Encode { what: "limits", source })?;
            let template = match &r.face_template {
                None => None,
                Some(t) => {
                    let template_id = uuid_v7_at(r.finished_at).to_string();
                    let bytes: Zeroizing<Vec<u8>> =
                        Zeroizing::new(t.iter().flat_map(|v| v.to_le_bytes()).collect());
                    let sealed = self.seal(
                        "face template",
                        &ctx("face_templates", "template_sealed", &template_id),
                        &bytes,
                    )?;
                    Some((template_id, sealed))
                }
            };
            let outbox_id = uuid_v7_at(r.finished_at).to_string();
            let template_b64: Option<Zeroizing<String>> = r.face_template.as_ref().map(|t| {
                let bytes: Zeroizing<Vec<u8>> = Zeroizing::new(t.iter().flat_map(|v| v.to_le_bytes()).collect());
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*bytes))
            });
            let message = AccountOpened {
                onboarding_id: &id,
                account_id: &account_id,
                created_at_ms: unix_ms(issued.account.created_at),
                limits: &issued.account.limits,
                activation_token_id: issued.token_id.to_string(),
                consent_version: &r.consent_version,
                consent_sha256: hex::encode(r.consent_sha256),
                personal: r.personal.as_ref(),
                face_template: template_b64.as_deref().map(String::as_str),
            };
            let payload = Zeroizing::new(
                serde_json::to_vec(&message)
                    .map_err(|source| StoreError::Encode { what: "outbox payload", source })?,
            );
            let payload_sealed =
                self.seal("outbox payload", &ctx("outbox", "payload_sealed", &outbox_id), &payload)?;
            account_rows = Some((account_id, limits_json, template, outbox_id, payload_sealed, issued));
        }

        let face_checks_json = match &r.face_checks {
            None => None,
            Some(checks) => Some(
                serde_json::to_string(checks).map_err(|source| StoreError::Encode { what: "face checks", source })?,
            ),
        };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process's retention pass may have destroyed the key this connection sealed
        // with (it was retired there); never commit values nobody else could open.
        if let Some(key_id) = self.keys.active_id() {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM data_keys WHERE key_id = ?1)",
                [key_id.0],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::KeyDestroyed { key_id: key_id.0 });
            }
        }
        tx.execute(
            "INSERT INTO onboardings (id, started_at, finished_at, outcome, consent_version, consent_sha256, document_sealed, refusal_reason, face_checks_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                id,
                unix_ms(r.started_at),
                finished,
                if issued.is_some() { "account_issued" } else { "refused" },
                r.consent_version,
                hex::encode(r.consent_sha256),
                document_sealed,
                reason,
                face_checks_json,
            ],
        )?;
        let outcome = if issued.is_some() { "account_issued" } else { "refused" };
        // The steps of the session, as facts without personal data: consent, document read,
        // face decision, then the outcome.
        audit::append(
            &tx,
            &self.audit_key,
            finished,
            "consent_recorded",
            &json!({ "onboarding_id": id, "consent_version": r.consent_version, "consent_sha256": hex::encode(r.consent_sha256) }),
        )?;
        if r.personal.is_some() {
            audit::append(&tx, &self.audit_key, finished, "document_read", &json!({ "onboarding_id": id }))?;
        }
        if let Some(decision) = face_decision(reason) {
            audit::append(
                &tx,
                &self.audit_key,
                finished,
                "face_decision",
                &json!({ "onboarding_id": id, "decision": decision, "checks": r.face_checks }),
            )?;
        }
        audit::append(
            &tx,
            &self.audit_key,
            finished,
            "onboarding_finished",
            &json!({ "onboarding_id": id, "outcome": outcome, "reason": reason }),
        )?;
        if let Some((account_id, limits_json, template, outbox_id, payload_sealed, issued)) = &account_rows {
            tx.execute(
                "INSERT INTO accounts (id, onboarding_id, created_at, limits_json, activation_token_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![account_id, id, unix_ms(issued.account.created_at), limits_json, issued.token_id.to_string()],
            )?;
            audit::append(
                &tx,
                &self.audit_key,
                finished,
                "account_issued",
                &json!({ "onboarding_id": id, "account_id": account_id }),
            )?;
            if let Some((template_id, sealed)) = template {
                let birth_key = r.enrolment_keys.as_ref().map(|k| k.birth.to_vec());
                tx.execute(
                    "INSERT INTO face_templates (id, account_id, created_at, template_sealed, birth_key) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![template_id, account_id, finished, sealed, birth_key],
                )?;
                audit::append(
                    &tx,
                    &self.audit_key,
                    finished,
                    "face_template_stored",
                    &json!({ "account_id": account_id, "template_id": template_id }),
                )?;
            }
            if let Some(keys) = &r.enrolment_keys {
                for (kind, digest) in [("document", &keys.document), ("holder", &keys.holder)] {
                    // The same key twice (a holder refused as a duplicate never gets here; an
                    // account issued before the check existed might): the first stays.
                    tx.execute(
                        "INSERT OR IGNORE INTO enrolment_keys (kind, digest, account_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                        params![kind, digest.to_vec(), account_id, finished],
                    )?;
                }
            }
            tx.execute(
                "INSERT INTO outbox (id, kind, payload_sealed, created_at, account_id, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
                params![outbox_id, OUTBOX_ACCOUNT_OPENED, payload_sealed, finished, account_id],
            )?;
            audit::append(
                &tx,
                &self.audit_key,
                finished,
                "outbox_enqueued",
                &json!({ "outbox_id": outbox_id, "kind": OUTBOX_ACCOUNT_OPENED }),
            )?;
        }
        tx.commit()?;
        tracing::info!(onboarding_id = %r.id, outcome, "onboarding recorded");
        Ok(())
    }

    /// The audit chain's newest seq and head: what a session binds its Active Authentication
    /// challenge to.
    pub fn audit_head(&self) -> Result<(i64, String), StoreError> {
        Ok(audit::head(&self.conn)?)
    }

    /// The key the duplicate check's keyed hashes are made with.
    pub fn lookup_key(&self) -> &super::LookupKey {
        &self.lookup_key
    }

    /// An earlier enrolment of the same document, or else of the same holder.
    pub fn enrolled_as(&self, keys: &super::EnrolmentKeys) -> Result<Option<super::DuplicateKind>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT kind FROM enrolment_keys WHERE (kind = 'document' AND digest = ?1) OR (kind = 'holder' AND digest = ?2)",
        )?;
        let kinds: Vec<String> = statement
            .query_map(params![keys.document.to_vec(), keys.holder.to_vec()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(if kinds.iter().any(|k| k == "document") {
            Some(super::DuplicateKind::Document)
        } else if kinds.is_empty() {
            None
        } else {
            Some(super::DuplicateKind::Holder)
        })
    }

    /// Every stored face template, opened, with its birth-date bucket (`None` for templates
    /// enrolled before buckets existed), for the 1:N search.
    pub fn enrolled_faces(&self) -> Result<Vec<EnrolledFace>, StoreError> {
        Ok(self.templates()?.into_iter().map(|(_, bucket, template)| (bucket, template)).collect())
    }

    /// All stored face templates, opened, with their account ids, for the 1:N search.
    pub fn face_templates(&self) -> Result<Vec<(Uuid, Vec<f32>)>, StoreError> {
        Ok(self.templates()?.into_iter().map(|(account, _, template)| (account, template)).collect())
    }

    /// Account, birth-date bucket and opened template of every stored face template.
    #[allow(clippy::type_complexity)]
    fn templates(&self) -> Result<Vec<(Uuid, Option<super::LookupDigest>, Vec<f32>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, account_id, template_sealed, birth_key FROM face_templates ORDER BY id")?;
        let rows: Vec<(String, String, Vec<u8>, Option<Vec<u8>>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, account_id, sealed, bucket) in rows {
            let bucket = match bucket {
                None => None,
                Some(bytes) => Some(super::LookupDigest::try_from(bytes.as_slice()).map_err(|_| {
                    StoreError::Corrupt { table: "face_templates", what: "birth_key is not 32 bytes" }
                })?),
            };
            let bytes =
                self.open_sealed("face template", &ctx("face_templates", "template_sealed", &id), &sealed)?;
            if bytes.len() % 4 != 0 {
                return Err(StoreError::Corrupt {
                    table: "face_templates",
                    what: "template length is not a multiple of 4",
                });
            }
            let template =
                bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            out.push((parse_uuid(&account_id, "face_templates")?, bucket, template));
        }
        Ok(out)
    }

    pub fn account_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Every onboarding's outcome, oldest first.
    pub fn onboarding_outcomes(&self) -> Result<Vec<(Uuid, Outcome)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, outcome, refusal_reason FROM onboardings ORDER BY finished_at, id")?;
        let rows: Vec<(String, String, Option<String>)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(id, outcome, reason)| {
                let outcome = match outcome.as_str() {
                    "account_issued" => Outcome::AccountIssued,
                    _ => Outcome::Refused(reason.unwrap_or_default()),
                };
                Ok((parse_uuid(&id, "onboardings")?, outcome))
            })
            .collect()
    }

    /// Marks the token used; a second call fails. Returns the account it activates.
    pub fn consume_activation_token(
        &mut self,
        token_id: TokenId,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let token = token_id.to_string();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<(String, Option<i64>)> = tx
            .query_row(
                "SELECT id, token_consumed_at FROM accounts WHERE activation_token_id = ?1",
                [&token],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let account_id = match row {
            None => return Err(StoreError::TokenUnknown),
            Some((_, Some(_))) => return Err(StoreError::TokenAlreadyUsed),
            Some((id, None)) => id,
        };
        let at = unix_ms(now);
        tx.execute(
            "UPDATE accounts SET token_consumed_at = ?1 WHERE id = ?2 AND token_consumed_at IS NULL",
            params![at, account_id],
        )?;
        audit::append(&tx, &self.audit_key, at, "activation_token_consumed", &json!({ "account_id": account_id }))?;
        tx.commit()?;
        parse_uuid(&account_id, "accounts")
    }

    pub fn verify_audit(&self) -> Result<AuditReport, AuditError> {
        audit::verify_chain(&self.conn, &self.audit_key)
    }
}

/// The face step's decision, from the outcome: `None` when the session ended before it.
fn face_decision(refusal: Option<&str>) -> Option<&'static str> {
    match refusal {
        None => Some("match"),
        Some("face_mismatch") => Some("mismatch"),
        Some("liveness_failed") => Some("not_live"),
        Some("no_face_found") => Some("no_usable_face"),
        Some("already_enrolled") => Some("duplicate"),
        Some(_) => None,
    }
}

/// The database holds only sealed personal data, but keep it owner-only anyway. Best effort:
/// a failure is logged, not fatal.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if !path.exists() {
        return;
    }
    if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        tracing::warn!(path = %path.display(), %error, "cannot restrict database file permissions");
    }
}

#[cfg(test)]
mod tests;
