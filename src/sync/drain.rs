//! Draining the outbox: send each due row, mark it sent after the core's 2xx (its own
//! transaction), back off on transient trouble, quarantine what the core refuses for good.
//!
//! Exactly once, end to end: the row id (the idempotency key) is committed with the
//! onboarding before any send; the core deduplicates by key; the row is marked sent only after
//! an acknowledgement echoing that key. A crash anywhere means the
//! row is sent again later under the same key, and the core answers "already have it".
//!
//! The store is blocking SQLite: run the drain on its own thread (a current-thread runtime),
//! as `kiosk sync` does, not among latency-sensitive tasks.

use super::backoff::Backoff;
use super::client::CoreClient;
use super::protocol::{AuditHead, Verdict};
use super::SyncError;
use crate::store::{OutboxItem, Store};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows read from the store at a time.
const BATCH: u32 = 64;

/// An unchanged head is anchored again after this long, so redemptions keep coming back.
pub const ANCHOR_MAX_AGE: time::Duration = time::Duration::hours(1);

/// Which rows a pass takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Rows whose back-off has elapsed (the background task).
    Due,
    /// Every pending row now, back-off or not (`kiosk sync`, asked for by staff).
    All,
}

/// One event of a pass, for progress output.
#[derive(Debug)]
pub enum Progress<'a> {
    Sent { id: Uuid, duplicate: bool, done: u64, total: u64 },
    Quarantined { id: Uuid, reason: &'a str },
    Deferred { id: Uuid, reason: &'a str, retry_in: Duration },
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: u64,
    /// Of `sent`, rows the core already had (an earlier acknowledgement was lost).
    pub duplicates: u64,
    pub quarantined: u64,
    /// Why the pass stopped early, when the core was unreachable or unhappy.
    pub deferred: Option<String>,
    /// What became of the audit head at the end of the pass.
    pub anchor: AnchorOutcome,
    /// Token redemptions the core reported that were recorded now.
    pub redemptions_recorded: u64,
    /// Accounts the core answered as blocked (`blocked_duplicate`, `blocked_document`), recorded
    /// with the account (`Store::core_account_states`).
    pub blocked_at_core: u64,
}

/// The audit anchor of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AnchorOutcome {
    /// Not due (the core holds this head), or the pass stopped before it.
    #[default]
    NotSent,
    /// The core stored the head at this seq.
    Anchored { seq: i64 },
    /// Sent again later (the core was unreachable or its answer was unreadable).
    Deferred { reason: String },
    /// The core refused it for good (the log does not match what it holds): an alert.
    Refused { reason: String },
}

fn batch(store: &Store, scope: Scope) -> Result<Vec<OutboxItem>, SyncError> {
    Ok(match scope {
        Scope::Due => store.due_outbox(OffsetDateTime::now_utc(), BATCH)?,
        Scope::All => store.pending_outbox(BATCH)?,
    })
}

fn after(delay: Duration) -> OffsetDateTime {
    OffsetDateTime::now_utc() + delay
}

/// One pass over the outbox. Stops at the first transient failure (the core is unwell; the
/// rows after it would fail too) after scheduling that row's retry.
pub async fn drain(
    store: &mut Store,
    client: &mut CoreClient,
    backoff: &Backoff,
    scope: Scope,
    progress: &mut (dyn FnMut(Progress<'_>) + Send),
) -> Result<DrainReport, SyncError> {
    let mut report = DrainReport::default();
    let total = store.outbox_status()?.pending;
    loop {
        let items = batch(store, scope)?;
        if items.is_empty() {
            report.anchor = anchor(store, client, &mut report.redemptions_recorded).await?;
            return Ok(report);
        }
        for item in items {
            let failures = item.attempts.saturating_add(1);
            let (verdict, core_state) = client.deliver_for_state(&item).await;
            match verdict {
                Verdict::Acknowledged { duplicate } => {
                    store.mark_outbox_sent_with_state(item.id, OffsetDateTime::now_utc(), core_state)?;
                    if let Some(state) = core_state.filter(|s| s.is_blocked()) {
                        report.blocked_at_core += 1;
                        // Staff see it in `kiosk sync`; the person's account is not usable.
                        tracing::warn!(outbox_id = %item.id, state = state.as_str(), "the core blocked the account: the person already has a demo account");
                    }
                    report.sent += 1;
                    report.duplicates += u64::from(duplicate);
                    progress(Progress::Sent { id: item.id, duplicate, done: report.sent, total });
                }
                Verdict::Permanent { status, reason } => {
                    store.quarantine_outbox(item.id, OffsetDateTime::now_utc(), &reason)?;
                    report.quarantined += 1;
                    // The alert: staff must resolve a quarantined row with the bank.
                    tracing::error!(outbox_id = %item.id, status, "core refused an outbox row for good; quarantined");
                    progress(Progress::Quarantined { id: item.id, reason: &reason });
                }
                Verdict::Transient { reason, retry_after } => {
                    let delay = backoff.delay_random(failures).max(retry_after.unwrap_or_default());
                    store.schedule_outbox_retry(item.id, after(delay), &reason)?;
                    tracing::warn!(outbox_id = %item.id, attempts = failures, retry_in_ms = delay.as_millis() as u64, %reason, "core delivery deferred");
                    progress(Progress::Deferred { id: item.id, reason: &reason, retry_in: delay });
                    report.deferred = Some(reason);
                    return Ok(report);
                }
                Verdict::Unauthorized { status, reason } => {
                    let delay = backoff.delay_random(failures);
                    store.schedule_outbox_retry(item.id, after(delay), &reason)?;
                    return Err(SyncError::Unauthorized { status, reason });
                }
            }
        }
    }
}

/// The batch's last request: the signed audit head, when due (see `Store::next_audit_anchor`).
async fn anchor(store: &mut Store, client: &mut CoreClient, recorded: &mut u64) -> Result<AnchorOutcome, SyncError> {
    let now = OffsetDateTime::now_utc();
    let Some(pending) = store.next_audit_anchor(now, ANCHOR_MAX_AGE, |seq, head, at| client.sign_head(seq, head, at))?
    else {
        return Ok(AnchorOutcome::NotSent);
    };
    let head = AuditHead {
        anchor_id: pending.id,
        kiosk_id: client.kiosk_id().to_owned(),
        seq: pending.seq,
        head: pending.head.clone(),
        anchored_at_ms: pending.anchored_at_ms,
        head_signature: pending.signature.clone(),
        redemptions_since_ms: store.redemptions_since_ms()?,
    };
    match client.anchor(&head).await {
        Ok(ack) => {
            let redemptions: Vec<(String, i64)> =
                ack.redeemed_tokens.into_iter().map(|r| (r.activation_token_id, r.redeemed_at_ms)).collect();
            let (new, _unknown) = store.audit_anchor_acknowledged(pending.id, OffsetDateTime::now_utc(), &redemptions)?;
            *recorded += new;
            tracing::info!(seq = pending.seq, redemptions = new, "audit head anchored at the core");
            Ok(AnchorOutcome::Anchored { seq: pending.seq })
        }
        Err(Verdict::Permanent { status, reason }) => {
            store.audit_anchor_refused(pending.id, OffsetDateTime::now_utc(), &reason)?;
            // The alert: the core holds heads this log no longer has.
            tracing::error!(seq = pending.seq, status, %reason, "the core refused the audit head: the local log does not match what it holds");
            Ok(AnchorOutcome::Refused { reason })
        }
        Err(Verdict::Transient { reason, .. }) => {
            tracing::warn!(seq = pending.seq, %reason, "audit head not anchored; sent again with the next batch");
            Ok(AnchorOutcome::Deferred { reason })
        }
        // `anchor` returns acknowledgements as `Ok`; kept total all the same.
        Err(Verdict::Acknowledged { .. }) => Ok(AnchorOutcome::Deferred { reason: "no acknowledgement".into() }),
        Err(Verdict::Unauthorized { status, reason }) => Err(SyncError::Unauthorized { status, reason }),
    }
}

/// The background task: drains due rows, then sleeps until the next row is due (at most
/// `poll`, so rows written by the onboarding meanwhile are picked up) or until `shutdown`.
pub async fn run(
    mut store: Store,
    mut client: CoreClient,
    backoff: Backoff,
    poll: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        if let Err(error) = drain(&mut store, &mut client, &backoff, Scope::Due, &mut |_| {}).await {
            tracing::error!(%error, "outbox drain failed");
        }
        let wait = match store.outbox_status() {
            Ok(status) => status
                .next_due_ms
                .map(|due| {
                    let now = crate::store::unix_ms_now();
                    Duration::from_millis(u64::try_from(due.saturating_sub(now)).unwrap_or(0))
                })
                .unwrap_or(poll)
                .clamp(Duration::from_millis(10), poll),
            Err(error) => {
                tracing::error!(%error, "cannot read the outbox state");
                poll
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}
