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
use super::protocol::Verdict;
use super::SyncError;
use crate::store::{OutboxItem, Store};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows read from the store at a time.
const BATCH: u32 = 64;

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
            return Ok(report);
        }
        for item in items {
            let failures = item.attempts.saturating_add(1);
            match client.deliver(&item).await {
                Verdict::Acknowledged { duplicate } => {
                    store.mark_outbox_sent(item.id, OffsetDateTime::now_utc())?;
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
