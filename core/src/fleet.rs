//! The fleet's health: each kiosk's heartbeat (a signed `heartbeat` message every minute:
//! version, uptime, device states in XFS4IoT terms, outbox backlog, onboardings today), its
//! last state and history, and the alerts computed from them.

use crate::error::CoreError;
use crate::http::Answer;
use crate::server::Core;
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

// The kiosk's own wire types: both sides read and write the same heartbeat.
pub use kiosk::sync::heartbeat::{Device, DeviceState, Heartbeat};

/// A heartbeat payload, checked beyond its shape (lengths the fleet page can show).
pub fn parse(payload: serde_json::Value) -> Result<Heartbeat, String> {
    let h: Heartbeat = serde_json::from_value(payload).map_err(|e| format!("heartbeat payload: {e}"))?;
    if h.version.is_empty() || h.version.len() > 64 {
        return Err("heartbeat version must have 1 to 64 characters".into());
    }
    if h.devices.len() > 32 || h.devices.iter().any(|d| d.name.is_empty() || d.name.len() > 32) {
        return Err("at most 32 devices, names of 1 to 32 characters".into());
    }
    Ok(h)
}

/// Stores a heartbeat (its message id makes a repeat a no-op) and the kiosk's last state.
pub async fn record(core: &Arc<Core>, kiosk_id: &str, key: Uuid, h: &Heartbeat) -> Result<Answer, CoreError> {
    let report = serde_json::to_value(h).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    let inserted = tx
        .execute(
            "INSERT INTO heartbeats (message_id, kiosk_id, report) VALUES ($1, $2, $3) ON CONFLICT (message_id) DO NOTHING",
            &[&key, &kiosk_id, &report],
        )
        .await?;
    if inserted == 0 {
        return Ok(Answer::json(200, json!({ "message_id": key, "status": "duplicate" })));
    }
    tx.execute(
        "INSERT INTO kiosk_status (kiosk_id, last_seen_at, report) VALUES ($1, now(), $2)
         ON CONFLICT (kiosk_id) DO UPDATE SET last_seen_at = now(), report = EXCLUDED.report",
        &[&kiosk_id, &report],
    )
    .await?;
    tx.commit().await?;
    Ok(Answer::json(201, json!({ "message_id": key, "status": "accepted" })))
}

/// Notes a refused request of a registered kiosk (for the refusal-spike alert).
pub async fn note_refusal(core: &Core, kiosk_id: &str, status: u16, reason: &str) {
    let Ok(client) = core.pool.get().await else { return };
    let status = i32::from(status);
    if let Err(error) = client
        .execute("INSERT INTO refusals (kiosk_id, status, reason) VALUES ($1, $2, $3)", &[&kiosk_id, &status, &reason])
        .await
    {
        tracing::warn!(%error, "refusal not logged");
    }
}

/// Alert thresholds.
pub const OFFLINE_AFTER_S: i64 = 600;
pub const BACKLOG_ALERT_S: u64 = 3600;
pub const REFUSAL_SPIKE: i64 = 10;
pub const REFUSAL_WINDOW_S: i64 = 600;

/// One kiosk as the fleet page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KioskView {
    pub kiosk_id: String,
    pub site: String,
    /// Seconds since the last heartbeat; `None`: never seen.
    pub last_seen_s: Option<i64>,
    pub report: Option<Heartbeat>,
    pub refusals_recent: i64,
    pub alerts: Vec<String>,
}

impl KioskView {
    pub fn online(&self) -> bool {
        self.last_seen_s.is_some_and(|s| s <= OFFLINE_AFTER_S)
    }
}

fn alerts(last_seen_s: Option<i64>, report: Option<&Heartbeat>, refusals: i64) -> Vec<String> {
    let mut out = Vec::new();
    match last_seen_s {
        None => out.push("never seen".to_owned()),
        Some(s) if s > OFFLINE_AFTER_S => out.push(format!("offline for {} min", s / 60)),
        _ => {}
    }
    if let Some(r) = report {
        for d in r.devices.iter().filter(|d| d.state.is_error()) {
            let state = serde_json::to_value(d.state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            out.push(format!("{} {state}", d.name));
        }
        if r.outbox_oldest_age_s > BACKLOG_ALERT_S {
            out.push(format!("backlog {} rows, oldest {} min", r.outbox_pending, r.outbox_oldest_age_s / 60));
        }
    }
    if refusals >= REFUSAL_SPIKE {
        out.push(format!("{refusals} refusals in {} min", REFUSAL_WINDOW_S / 60));
    }
    out
}

/// Every registered kiosk with its last state and alerts, worst first.
pub async fn overview(core: &Core) -> Result<Vec<KioskView>, CoreError> {
    let client = core.pool.get().await?;
    let rows = client
        .query(
            "SELECT k.kiosk_id, k.site,
                    extract(epoch FROM now() - s.last_seen_at)::bigint,
                    s.report,
                    (SELECT count(*) FROM refusals r WHERE r.kiosk_id = k.kiosk_id AND r.at > now() - $1::bigint * interval '1 second')
             FROM kiosks k LEFT JOIN kiosk_status s ON s.kiosk_id = k.kiosk_id
             ORDER BY k.kiosk_id",
            &[&REFUSAL_WINDOW_S],
        )
        .await?;
    let mut views: Vec<KioskView> = rows
        .iter()
        .map(|row| {
            let report: Option<Heartbeat> = row.get::<_, Option<serde_json::Value>>(3).and_then(|v| serde_json::from_value(v).ok());
            let last_seen_s: Option<i64> = row.get(2);
            let refusals: i64 = row.get(4);
            KioskView {
                kiosk_id: row.get(0),
                site: row.get(1),
                alerts: alerts(last_seen_s, report.as_ref(), refusals),
                last_seen_s,
                report,
                refusals_recent: refusals,
            }
        })
        .collect();
    views.sort_by_key(|v| std::cmp::Reverse(v.alerts.len()));
    Ok(views)
}

/// A kiosk's heartbeats, newest first: (seconds ago, report).
pub async fn history(core: &Core, kiosk_id: &str, limit: i64) -> Result<Vec<(i64, Heartbeat)>, CoreError> {
    let client = core.pool.get().await?;
    let rows = client
        .query(
            "SELECT extract(epoch FROM now() - received_at)::bigint, report FROM heartbeats WHERE kiosk_id = $1 ORDER BY received_at DESC, id DESC LIMIT $2",
            &[&kiosk_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| serde_json::from_value(r.get(1)).ok().map(|h| (r.get::<_, i64>(0), h)))
        .collect())
}

/// Deletes heartbeats and refusal notes older than 30 days.
pub async fn purge(core: &Core) -> Result<u64, CoreError> {
    let client = core.pool.get().await?;
    let a = client.execute("DELETE FROM heartbeats WHERE received_at < now() - interval '30 days'", &[]).await?;
    let b = client.execute("DELETE FROM refusals WHERE at < now() - interval '30 days'", &[]).await?;
    Ok(a + b)
}
