//! The kiosk's heartbeat to the bank core: every minute a signed `heartbeat` message (the
//! protocol of docs/openapi/core-sync.yaml, sent directly, not through the outbox: a lost one
//! is replaced by the next) with the version, uptime, each device's state in XFS4IoT terms,
//! the outbox backlog and its oldest age, and today's onboardings. The core's fleet page
//! raises its alerts from these.

use super::client::CoreClient;
use super::protocol::Verdict;
use crate::diag::metrics::Metrics;
use crate::store::OutboxItem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub const KIND: &str = "heartbeat";
pub const INTERVAL: Duration = Duration::from_secs(60);
/// The devices the service reports errors for (`Metrics::device_error`).
pub const DEVICES: [&str; 6] = ["card_reader", "camera", "display", "input", "store", "models"];

/// XFS4IoT `common.status.device` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceState {
    Online,
    Offline,
    HardwareError,
    UserError,
    FraudAttempt,
}

impl DeviceState {
    pub fn is_error(self) -> bool {
        !matches!(self, DeviceState::Online)
    }
}

// The wire types of both sides: kiosk-core reads heartbeats with these (strictly: unknown
// fields refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub name: String,
    pub state: DeviceState,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub version: String,
    pub uptime_s: u64,
    pub devices: Vec<Device>,
    pub outbox_pending: u64,
    /// Age of the oldest unsent outbox row; 0 when none.
    pub outbox_oldest_age_s: u64,
    pub onboardings_today: u64,
}

/// A device is in `hardwareError` when it failed since the previous heartbeat.
pub fn device_states(now: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>) -> Vec<Device> {
    DEVICES
        .iter()
        .map(|name| {
            let grew = now.get(*name).copied().unwrap_or(0) > before.get(*name).copied().unwrap_or(0);
            Device { name: (*name).to_owned(), state: if grew { DeviceState::HardwareError } else { DeviceState::Online } }
        })
        .collect()
}

/// (outbox pending, oldest unsent age s, onboardings since midnight UTC) from the store,
/// read-only.
pub fn store_figures(db: &Path, now_ms: i64) -> Option<(u64, u64, u64)> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let gauges = crate::store::read_outbox_gauges(&conn).ok()?;
    let midnight = now_ms - now_ms.rem_euclid(86_400_000);
    let today: i64 = conn.query_row("SELECT count(*) FROM onboardings WHERE finished_at >= ?1", [midnight], |r| r.get(0)).ok()?;
    let oldest = gauges.oldest_unsent_ms.map_or(0, |t| u64::try_from((now_ms - t) / 1000).unwrap_or(0));
    Some((u64::try_from(gauges.pending).unwrap_or(0), oldest, u64::try_from(today).unwrap_or(0)))
}

/// The message for one heartbeat, under a fresh id (a heartbeat is never resent).
pub fn item(h: &Heartbeat, now: OffsetDateTime) -> Option<OutboxItem> {
    let payload = serde_json::to_vec(h).ok()?;
    let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    Some(OutboxItem {
        id: crate::account::demo_account::uuid_v7_at(now),
        kind: KIND.to_owned(),
        payload: Zeroizing::new(payload),
        created_at_ms: ms,
        attempts: 0,
    })
}

/// Sends a heartbeat every [`INTERVAL`] until `stop`.
pub async fn run(mut client: CoreClient, db: PathBuf, metrics: Arc<Metrics>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let started = Instant::now();
    let mut before = metrics.device_error_counts();
    loop {
        let now_counts = metrics.device_error_counts();
        let now = OffsetDateTime::now_utc();
        let db_path = db.clone();
        let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let figures = tokio::task::spawn_blocking(move || store_figures(&db_path, now_ms)).await.ok().flatten();
        let (pending, oldest, today) = figures.unwrap_or_default();
        let heartbeat = Heartbeat {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_s: started.elapsed().as_secs(),
            devices: device_states(&now_counts, &before),
            outbox_pending: pending,
            outbox_oldest_age_s: oldest,
            onboardings_today: today,
        };
        before = now_counts;
        if let Some(item) = item(&heartbeat, now) {
            match client.deliver(&item).await {
                Verdict::Acknowledged { .. } => tracing::debug!("heartbeat delivered"),
                other => tracing::warn!(?other, "heartbeat not delivered; the next one follows in a minute"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_that_failed_since_the_last_beat_is_in_hardware_error() {
        let before: BTreeMap<String, u64> = [("camera".to_owned(), 2)].into();
        let now: BTreeMap<String, u64> = [("camera".to_owned(), 3), ("store".to_owned(), 0)].into();
        let states = device_states(&now, &before);
        assert_eq!(states.len(), DEVICES.len());
        for d in &states {
            let expected = if d.name == "camera" { DeviceState::HardwareError } else { DeviceState::Online };
            assert_eq!(d.state, expected, "{}", d.name);
        }
        assert!(device_states(&now, &now).iter().all(|d| d.state == DeviceState::Online));
        let json = serde_json::to_value(&states[1]).unwrap();
        assert_eq!(json["state"], "hardwareError");
    }
}
