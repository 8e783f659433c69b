//! The answer to the state social payments offer: one sealed row per account, written with
//! its audit event and its `social_payments_choice` outbox message in one transaction.
//!
//! One choice per account: a second one is refused ([`StoreError::ChoiceAlreadyRecorded`]).
//! The kiosk asks once, right after the account is issued; changing one's mind later is a
//! matter for the bank's app or SFR, and a single message per account keeps the core's view
//! simple (no "which one wins"). A declined offer (`credit_to_account = false`) is recorded
//! and sent without the categories and kinds: with nothing to request they have no purpose,
//! and they are the sensitive part (data minimisation).

use super::audit;
use super::store::{ctx, parse_uuid, unix_ms, Store, StoreError};
use crate::account::demo_account::uuid_v7_at;
use crate::benefits::SocialPaymentsChoice;
use rusqlite::{params, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Outbox kind for the person's answer to the social payments offer.
pub const OUTBOX_SOCIAL_PAYMENTS_CHOICE: &str = "social_payments_choice";

/// Longest rules version stored (in clear, so only a short identifier).
const MAX_VERSION_LEN: usize = 32;
/// Most ids a choice may carry (categories or kinds); the rules allow 64 categories.
const MAX_IDS: usize = 64;

/// What is sealed in the row: everything that says something about the person.
#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct SealedChoice {
    credit_to_account: bool,
    categories: Vec<String>,
    kinds_offered: Vec<String>,
}

/// The `social_payments_choice` message for the bank core (sealed in the outbox).
#[derive(Serialize)]
struct ChoiceMessage<'a> {
    choice_id: &'a str,
    account_id: &'a str,
    decided_at_ms: i64,
    rules_version: &'a str,
    credit_to_account: bool,
    categories: &'a [String],
    kinds_offered: &'a [String],
}

/// A recorded choice, read back.
#[derive(Debug)]
pub struct StoredSocialPaymentsChoice {
    pub id: Uuid,
    pub outbox_id: Uuid,
    /// `None` once retention purged the sealed part.
    pub choice: Option<SocialPaymentsChoice>,
}

/// id, decided_at, rules_version, choice_sealed, outbox_id.
type ChoiceRow = (String, i64, String, Option<Vec<u8>>, String);

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn check(c: &SocialPaymentsChoice) -> Result<(), StoreError> {
    let version_ok = !c.rules_version.is_empty()
        && c.rules_version.len() <= MAX_VERSION_LEN
        && c.rules_version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if !version_ok {
        return Err(StoreError::InvalidRecord(
            "social payments choice: rules version is not a short version id",
        ));
    }
    if c.categories.len() > MAX_IDS || c.kinds_offered.len() > MAX_IDS {
        return Err(StoreError::InvalidRecord("social payments choice: too many categories or kinds"));
    }
    if !c.categories.iter().chain(&c.kinds_offered).all(|id| valid_id(id)) {
        return Err(StoreError::InvalidRecord(
            "social payments choice: a category or kind is not a rules id",
        ));
    }
    Ok(())
}

impl Store {
    /// Records the person's answer to the social payments offer for an account recorded
    /// earlier (`record_onboarding` first): the sealed row, the `social_payments_choice_recorded`
    /// audit event (account, rules version; nothing personal) and the sealed outbox message,
    /// in one transaction. Returns the choice id.
    ///
    /// Errors: [`StoreError::ChoiceAccountUnknown`] when the account is not in this store,
    /// [`StoreError::ChoiceAlreadyRecorded`] for a second choice for the same account
    /// (nothing is changed), `InvalidRecord` for ids that are not rules ids.
    pub fn record_social_payments_choice(&mut self, c: &SocialPaymentsChoice) -> Result<Uuid, StoreError> {
        check(c)?;
        self.follow_rotation()?;
        let account_id = c.account_id.to_string();
        let decided = unix_ms(c.decided_at);
        let choice_id = uuid_v7_at(c.decided_at).to_string();
        let outbox_id = uuid_v7_at(c.decided_at).to_string();
        // A decline requests nothing: keep no categories or kinds (see the module docs).
        let (categories, kinds_offered) = if c.credit_to_account {
            (c.categories.clone(), c.kinds_offered.clone())
        } else {
            (Vec::new(), Vec::new())
        };
        let sealed_part = SealedChoice { credit_to_account: c.credit_to_account, categories, kinds_offered };
        let plain = Zeroizing::new(
            serde_json::to_vec(&sealed_part)
                .map_err(|source| StoreError::Encode { what: "social payments choice", source })?,
        );
        let choice_sealed = self.seal(
            "social payments choice",
            &ctx("social_payments_choices", "choice_sealed", &choice_id),
            &plain,
        )?;
        let message = ChoiceMessage {
            choice_id: &choice_id,
            account_id: &account_id,
            decided_at_ms: decided,
            rules_version: &c.rules_version,
            credit_to_account: sealed_part.credit_to_account,
            categories: &sealed_part.categories,
            kinds_offered: &sealed_part.kinds_offered,
        };
        let payload = Zeroizing::new(
            serde_json::to_vec(&message)
                .map_err(|source| StoreError::Encode { what: "outbox payload", source })?,
        );
        let payload_sealed =
            self.seal("outbox payload", &ctx("outbox", "payload_sealed", &outbox_id), &payload)?;

        let key_id = self.keys.active_id();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // As for onboardings: never commit values sealed under a key another process destroyed.
        if let Some(key_id) = key_id {
            let exists: bool =
                tx.query_row("SELECT EXISTS(SELECT 1 FROM data_keys WHERE key_id = ?1)", [key_id.0], |r| {
                    r.get(0)
                })?;
            if !exists {
                return Err(StoreError::KeyDestroyed { key_id: key_id.0 });
            }
        }
        let account_known: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM accounts WHERE id = ?1)", [&account_id], |r| r.get(0))?;
        if !account_known {
            return Err(StoreError::ChoiceAccountUnknown);
        }
        let already: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM social_payments_choices WHERE account_id = ?1)",
            [&account_id],
            |r| r.get(0),
        )?;
        if already {
            return Err(StoreError::ChoiceAlreadyRecorded);
        }
        // Queued after the account's own message, whatever the clocks said.
        let account_queued: Option<i64> = tx.query_row(
            "SELECT MAX(created_at) FROM outbox WHERE account_id = ?1 AND kind = ?2",
            params![account_id, super::OUTBOX_ACCOUNT_OPENED],
            |r| r.get(0),
        )?;
        let queued_at = account_queued.map_or(decided, |at| at.max(decided));
        tx.execute(
            "INSERT INTO outbox (id, kind, payload_sealed, created_at, account_id, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
            params![outbox_id, OUTBOX_SOCIAL_PAYMENTS_CHOICE, payload_sealed, queued_at, account_id],
        )?;
        tx.execute(
            "INSERT INTO social_payments_choices (id, account_id, decided_at, rules_version, choice_sealed, outbox_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![choice_id, account_id, decided, c.rules_version, choice_sealed, outbox_id],
        )?;
        audit::append(
            &tx,
            &self.audit_key,
            decided,
            "social_payments_choice_recorded",
            &json!({ "choice_id": choice_id, "account_id": account_id, "rules_version": c.rules_version }),
        )?;
        audit::append(
            &tx,
            &self.audit_key,
            decided,
            "outbox_enqueued",
            &json!({ "outbox_id": outbox_id, "kind": OUTBOX_SOCIAL_PAYMENTS_CHOICE }),
        )?;
        tx.commit()?;
        tracing::info!(%choice_id, account_id = %c.account_id, "social payments choice recorded");
        parse_uuid(&choice_id, "social_payments_choices")
    }

    /// The choice recorded for `account_id`, opened; `None` when there is none.
    pub fn social_payments_choice(
        &self,
        account_id: Uuid,
    ) -> Result<Option<StoredSocialPaymentsChoice>, StoreError> {
        const TABLE: &str = "social_payments_choices";
        let row: Option<ChoiceRow> = self
            .conn
            .query_row(
                "SELECT id, decided_at, rules_version, choice_sealed, outbox_id FROM social_payments_choices WHERE account_id = ?1",
                [account_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((id, decided_at, rules_version, sealed, outbox_id)) = row else { return Ok(None) };
        let choice = match sealed {
            None => None,
            Some(sealed) => {
                let plain =
                    self.open_sealed("social payments choice", &ctx(TABLE, "choice_sealed", &id), &sealed)?;
                let part: SealedChoice = serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt {
                    table: TABLE,
                    what: "sealed choice is not the expected JSON",
                })?;
                let decided_at =
                    OffsetDateTime::from_unix_timestamp_nanos(i128::from(decided_at) * 1_000_000)
                        .map_err(|_| StoreError::Corrupt { table: TABLE, what: "decided_at out of range" })?;
                Some(SocialPaymentsChoice {
                    account_id,
                    categories: part.categories.clone(),
                    kinds_offered: part.kinds_offered.clone(),
                    credit_to_account: part.credit_to_account,
                    rules_version,
                    decided_at,
                })
            }
        };
        Ok(Some(StoredSocialPaymentsChoice {
            id: parse_uuid(&id, TABLE)?,
            outbox_id: parse_uuid(&outbox_id, TABLE)?,
            choice,
        }))
    }
}

#[cfg(test)]
mod tests;
