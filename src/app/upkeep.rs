//! What `kiosk run` keeps up by itself: data-key rotation and the retention purge at start and
//! then daily (the same pass `kiosk sync` runs), counted in `/metrics`, plus the audit anchor
//! gauges. On a connection and thread of its own: the store is blocking SQLite.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kiosk_config::Config;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::AppError;
use crate::diag::metrics::{AuditGauges, Metrics, UpkeepRun};
use crate::store::{KeyStore, PurgeReport, Store, StoreError};

/// Between two passes.
pub const EVERY: Duration = Duration::from_secs(24 * 3600);
/// Between two refreshes of the audit anchor gauges.
const GAUGES_EVERY: Duration = Duration::from_secs(15);

/// One pass: rotate the data key when due, then purge what retention says.
pub fn run_once(store: &mut Store, keys: &KeyStore, config: &Config, now: OffsetDateTime) -> Result<UpkeepRun, StoreError> {
    let lifetime = time::Duration::days(i64::from(config.store.data_key_lifetime_days));
    let rotated = store.rotate_data_key_if_due(keys, now, lifetime)?;
    let purge: PurgeReport = store.purge_expired(now, time::Duration::days(i64::from(config.store.retention_days)))?;
    Ok(UpkeepRun { rotated: rotated.is_some(), purge })
}

/// Starts the upkeep thread; it stops when `stop` turns true.
pub fn spawn(
    config: &Config,
    db: PathBuf,
    keys: KeyStore,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), AppError> {
    let mut store = Store::open(&db, &keys)?;
    let config = config.clone();
    std::thread::Builder::new()
        .name("upkeep".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
                Ok(runtime) => runtime,
                Err(error) => return tracing::error!(%error, "upkeep runtime could not start"),
            };
            runtime.block_on(async move {
                let mut next_pass = tokio::time::Instant::now();
                loop {
                    if tokio::time::Instant::now() >= next_pass {
                        next_pass = tokio::time::Instant::now() + EVERY;
                        match run_once(&mut store, &keys, &config, OffsetDateTime::now_utc()) {
                            Ok(run) => {
                                tracing::info!(rotated = run.rotated, purged = ?run.purge, "upkeep pass");
                                metrics.upkeep_done(&run);
                            }
                            Err(error) => {
                                tracing::error!(%error, "upkeep pass failed (rotation or retention); retried in an hour");
                                metrics.upkeep_failed();
                                next_pass = tokio::time::Instant::now() + Duration::from_secs(3600);
                            }
                        }
                    }
                    if let Ok(g) = store.anchor_gauges() {
                        let now = crate::store::unix_ms_now();
                        metrics.set_audit(AuditGauges {
                            anchored_seq: g.anchored_seq,
                            anchor_age_s: g.anchored_at_ms.map_or(-1.0, |t| (now - t).max(0) as f64 / 1000.0),
                            anchors_refused: g.refused,
                        });
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(GAUGES_EVERY) => {}
                        _ = stop.changed() => {}
                    }
                    if *stop.borrow() {
                        return;
                    }
                }
            });
        })
        .map_err(|e| AppError::task("upkeep thread", e))?;
    Ok(())
}
