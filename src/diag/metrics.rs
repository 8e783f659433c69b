//! The service's metrics, rendered in the Prometheus text exposition format (0.0.4).
//! Names follow Prometheus conventions: `kiosk_` prefix, base units (seconds), `_total` on
//! counters, labels with small fixed value sets (never a person's data).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds of the stage-latency histogram buckets, seconds: chip reads take seconds,
/// inference tens of milliseconds.
pub const STAGE_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Where the outbox stands, as last measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SyncGauges {
    pub backlog: u64,
    pub quarantined: u64,
    pub oldest_unsent_age_s: f64,
    /// Unix seconds of the last delivery; 0 when never.
    pub last_success_unix_s: f64,
}

/// One upkeep pass of the service (rotation and retention).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpkeepRun {
    pub rotated: bool,
    pub purge: crate::store::PurgeReport,
}

/// The audit chain's anchoring at the core, as last read from the database.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AuditGauges {
    pub anchored_seq: i64,
    /// Seconds since the core acknowledged the last head; -1 when it never did.
    pub anchor_age_s: f64,
    pub anchors_refused: u64,
}

#[derive(Debug, Default)]
struct Upkeep {
    ok: u64,
    failed: u64,
    rotations: u64,
    purged: BTreeMap<&'static str, u64>,
    last_ok_unix_s: f64,
}

#[derive(Debug, Default)]
struct Inner {
    upkeep: Upkeep,
    audit: Option<AuditGauges>,
    started: u64,
    finished: BTreeMap<(String, String), u64>,
    stages: BTreeMap<String, Histogram>,
    device_errors: BTreeMap<String, u64>,
    sync: SyncGauges,
    in_session: bool,
    ready: bool,
}

/// Shared by the session loop (writers) and the HTTP endpoint (reader).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A panic elsewhere while holding the lock leaves plain numbers: still fine to use.
        let mut guard = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    pub fn session_started(&self) {
        self.with(|m| {
            m.started += 1;
            m.in_session = true;
        });
    }

    /// `outcome`: `account_issued`, `refused`, `abandoned` or `error`; `reason` the refusal
    /// code or `none`.
    pub fn session_finished(&self, outcome: &str, reason: &str) {
        self.with(|m| {
            *m.finished.entry((outcome.to_owned(), reason.to_owned())).or_default() += 1;
            m.in_session = false;
        });
    }

    pub fn observe_stage(&self, stage: &str, seconds: f64) {
        if !seconds.is_finite() || seconds < 0.0 {
            return;
        }
        self.with(|m| {
            let h = m.stages.entry(stage.to_owned()).or_insert_with(|| Histogram {
                counts: vec![0; STAGE_BUCKETS.len()],
                ..Histogram::default()
            });
            for (count, bound) in h.counts.iter_mut().zip(STAGE_BUCKETS) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            h.sum += seconds;
            h.count += 1;
        });
    }

    /// `device`: `card_reader`, `camera`, `display`, `input`, `store`, `models`.
    pub fn device_error(&self, device: &str) {
        self.with(|m| *m.device_errors.entry(device.to_owned()).or_default() += 1);
    }

    /// Device errors so far, by device (the heartbeat's device states).
    pub fn device_error_counts(&self) -> BTreeMap<String, u64> {
        self.with(|m| m.device_errors.clone())
    }

    pub fn set_sync(&self, sync: SyncGauges) {
        self.with(|m| m.sync = sync);
    }

    pub fn upkeep_done(&self, run: &UpkeepRun) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        self.with(|m| {
            let u = &mut m.upkeep;
            u.ok += 1;
            u.rotations += u64::from(run.rotated);
            for (kind, n) in [
                ("face_templates", run.purge.face_templates),
                ("documents", run.purge.documents),
                ("social_payments_choices", run.purge.social_payments_choices),
                ("data_keys", run.purge.keys_destroyed.len() as u64),
            ] {
                *u.purged.entry(kind).or_default() += n;
            }
            u.last_ok_unix_s = now;
        });
    }

    pub fn upkeep_failed(&self) {
        self.with(|m| m.upkeep.failed += 1);
    }

    pub fn set_audit(&self, audit: AuditGauges) {
        self.with(|m| m.audit = Some(audit));
    }

    pub fn set_ready(&self, ready: bool) {
        self.with(|m| m.ready = ready);
    }

    pub fn ready(&self) -> bool {
        self.with(|m| m.ready)
    }

    /// The text exposition format, `# HELP` and `# TYPE` before each family.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::with_capacity(4096);
            family(&mut out, "kiosk_build_info", "gauge", "Software version of the running kiosk (always 1).");
            let _ = writeln!(out, "kiosk_build_info{{version=\"{}\"}} 1", escape(env!("CARGO_PKG_VERSION")));
            family(&mut out, "kiosk_ready", "gauge", "1 when the kiosk serves people (devices open, models loaded), else 0.");
            let _ = writeln!(out, "kiosk_ready {}", u8::from(m.ready));
            family(&mut out, "kiosk_session_in_progress", "gauge", "1 while a person's session runs.");
            let _ = writeln!(out, "kiosk_session_in_progress {}", u8::from(m.in_session));
            family(&mut out, "kiosk_onboardings_started_total", "counter", "Onboarding sessions started.");
            let _ = writeln!(out, "kiosk_onboardings_started_total {}", m.started);
            family(&mut out, "kiosk_onboardings_finished_total", "counter", "Onboarding sessions finished, by outcome and refusal reason.");
            for ((outcome, reason), n) in &m.finished {
                let _ = writeln!(
                    out,
                    "kiosk_onboardings_finished_total{{outcome=\"{}\",reason=\"{}\"}} {n}",
                    escape(outcome),
                    escape(reason)
                );
            }
            family(&mut out, "kiosk_stage_duration_seconds", "histogram", "Duration of each onboarding stage.");
            for (stage, h) in &m.stages {
                let stage = escape(stage);
                for (count, bound) in h.counts.iter().zip(STAGE_BUCKETS) {
                    let _ = writeln!(out, "kiosk_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"{bound}\"}} {count}");
                }
                let _ = writeln!(out, "kiosk_stage_duration_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "kiosk_stage_duration_seconds_sum{{stage=\"{stage}\"}} {}", h.sum);
                let _ = writeln!(out, "kiosk_stage_duration_seconds_count{{stage=\"{stage}\"}} {}", h.count);
            }
            family(&mut out, "kiosk_device_errors_total", "counter", "Device errors seen by the service, by device.");
            for (device, n) in &m.device_errors {
                let _ = writeln!(out, "kiosk_device_errors_total{{device=\"{}\"}} {n}", escape(device));
            }
            family(&mut out, "kiosk_sync_backlog_messages", "gauge", "Outbox messages waiting for the bank core.");
            let _ = writeln!(out, "kiosk_sync_backlog_messages {}", m.sync.backlog);
            family(&mut out, "kiosk_sync_quarantined_messages", "gauge", "Outbox messages the core refused for good.");
            let _ = writeln!(out, "kiosk_sync_quarantined_messages {}", m.sync.quarantined);
            family(&mut out, "kiosk_sync_lag_seconds", "gauge", "Age of the oldest unsent outbox message (0 when none).");
            let _ = writeln!(out, "kiosk_sync_lag_seconds {}", m.sync.oldest_unsent_age_s);
            family(&mut out, "kiosk_sync_last_success_timestamp_seconds", "gauge", "Unix time of the last delivery to the core (0: never).");
            let _ = writeln!(out, "kiosk_sync_last_success_timestamp_seconds {}", m.sync.last_success_unix_s);
            let u = &m.upkeep;
            family(&mut out, "kiosk_upkeep_runs_total", "counter", "Rotation and retention passes of the service (at start, then daily), by result.");
            let _ = writeln!(out, "kiosk_upkeep_runs_total{{result=\"ok\"}} {}", u.ok);
            let _ = writeln!(out, "kiosk_upkeep_runs_total{{result=\"error\"}} {}", u.failed);
            family(&mut out, "kiosk_upkeep_last_success_timestamp_seconds", "gauge", "Unix time of the last successful upkeep pass (0: none yet).");
            let _ = writeln!(out, "kiosk_upkeep_last_success_timestamp_seconds {}", u.last_ok_unix_s);
            family(&mut out, "kiosk_data_key_rotations_total", "counter", "Data keys rotated by the service.");
            let _ = writeln!(out, "kiosk_data_key_rotations_total {}", u.rotations);
            family(&mut out, "kiosk_retention_purged_total", "counter", "Sealed values purged by retention, and retired data keys destroyed, by kind.");
            for kind in ["face_templates", "documents", "social_payments_choices", "data_keys"] {
                let _ = writeln!(out, "kiosk_retention_purged_total{{kind=\"{kind}\"}} {}", u.purged.get(kind).copied().unwrap_or(0));
            }
            if let Some(a) = m.audit {
                family(&mut out, "kiosk_audit_anchored_seq", "gauge", "Seq of the newest audit chain head the bank core acknowledged (0: none).");
                let _ = writeln!(out, "kiosk_audit_anchored_seq {}", a.anchored_seq);
                family(&mut out, "kiosk_audit_anchor_age_seconds", "gauge", "Seconds since the core acknowledged the last audit head (-1: never).");
                let _ = writeln!(out, "kiosk_audit_anchor_age_seconds {}", a.anchor_age_s);
                family(&mut out, "kiosk_audit_anchors_refused", "gauge", "Audit heads the core refused (the log does not match what it holds): alert on > 0.");
                let _ = writeln!(out, "kiosk_audit_anchors_refused {}", a.anchors_refused);
            }
            out
        })
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Label values: backslash, double quote and newline escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_the_count() {
        let m = Metrics::default();
        m.observe_stage("read_document", 0.3);
        m.observe_stage("read_document", 4.0);
        m.observe_stage("read_document", 100.0);
        let text = m.render();
        assert!(text.contains("kiosk_stage_duration_seconds_bucket{stage=\"read_document\",le=\"0.25\"} 0"));
        assert!(text.contains("kiosk_stage_duration_seconds_bucket{stage=\"read_document\",le=\"0.5\"} 1"));
        assert!(text.contains("kiosk_stage_duration_seconds_bucket{stage=\"read_document\",le=\"5\"} 2"));
        assert!(text.contains("kiosk_stage_duration_seconds_bucket{stage=\"read_document\",le=\"+Inf\"} 3"));
        assert!(text.contains("kiosk_stage_duration_seconds_count{stage=\"read_document\"} 3"));
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
