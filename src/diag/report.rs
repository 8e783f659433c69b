//! The diagnostic report: one result per check, its JSON form (schema `kiosk-diag/1`, see
//! docs/diag-schema.json) and the technician's table. The JSON is an interface for fleet tools:
//! fields are only ever added, never renamed or removed, within one schema version.

use std::collections::BTreeMap;

use serde::Serialize;

/// Name and version of the JSON layout.
pub const SCHEMA: &str = "kiosk-diag/1";

/// Outcome of one check. `Skip` is not a problem (not configured, or interactive and
/// `--no-interactive`), so it counts as ok for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Stable id, `group.name` (e.g. `reader.firmware`); see docs/DIAG.md for the list.
    pub id: String,
    pub status: Status,
    /// What was measured or found, for a person.
    pub value: String,
    /// The same as numbers, for fleet tools (units in the key: `_ms`, `_bytes`, `_fps`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub measurements: BTreeMap<String, f64>,
    /// What to do when the status is not ok; `null` when ok or skipped.
    pub action: Option<String>,
    pub duration_ms: u64,
}

impl CheckResult {
    pub fn ok(id: &str, value: impl Into<String>) -> Self {
        Self::new(id, Status::Ok, value, None)
    }

    pub fn skip(id: &str, why: impl Into<String>) -> Self {
        Self::new(id, Status::Skip, why, None)
    }

    pub fn warn(id: &str, value: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(id, Status::Warn, value, Some(action.into()))
    }

    pub fn fail(id: &str, value: impl Into<String>, action: impl Into<String>) -> Self {
        Self::new(id, Status::Fail, value, Some(action.into()))
    }

    fn new(id: &str, status: Status, value: impl Into<String>, action: Option<String>) -> Self {
        Self { id: id.to_owned(), status, value: value.into(), measurements: BTreeMap::new(), action, duration_ms: 0 }
    }

    /// Adds a number to `measurements`.
    pub fn with(mut self, key: &str, value: f64) -> Self {
        if value.is_finite() {
            self.measurements.insert(key.to_owned(), value);
        }
        self
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub ok: u32,
    pub warn: u32,
    pub fail: u32,
    pub skip: u32,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub kiosk_id: String,
    pub software_version: &'static str,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// The worst status of all checks (`skip` counts as `ok`).
    pub status: Status,
    /// The process exit code: 0 all ok, 1 warnings, 2 failures.
    pub exit_code: u8,
    pub summary: Summary,
    pub checks: Vec<CheckResult>,
}

impl Report {
    pub fn new(kiosk_id: String, started_at: String, duration_ms: u64, checks: Vec<CheckResult>) -> Self {
        let mut summary = Summary::default();
        for check in &checks {
            match check.status {
                Status::Ok => summary.ok += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
                Status::Skip => summary.skip += 1,
            }
        }
        let status = match checks.iter().map(|c| c.status).max() {
            Some(Status::Fail) => Status::Fail,
            Some(Status::Warn) => Status::Warn,
            _ => Status::Ok,
        };
        let exit_code = match status {
            Status::Fail => 2,
            Status::Warn => 1,
            _ => 0,
        };
        Self {
            schema: SCHEMA,
            kiosk_id,
            software_version: env!("CARGO_PKG_VERSION"),
            started_at,
            duration_ms,
            status,
            exit_code,
            summary,
            checks,
        }
    }

    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The technician's table: one line per check, the action under each problem.
    pub fn to_text(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = format!(
            "kiosk diag: kiosk {}, software {}, {}\n",
            self.kiosk_id, self.software_version, self.started_at
        );
        for c in &self.checks {
            let mark = match c.status {
                Status::Ok => "OK  ",
                Status::Skip => "SKIP",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            out.push_str(&format!("{mark}  {:<width$}  {}  [{} ms]\n", c.id, c.value, c.duration_ms));
            if let Some(action) = &c.action {
                out.push_str(&format!("      {:<width$}  → {action}\n", ""));
            }
        }
        let s = &self.summary;
        out.push_str(&format!(
            "{}: {} ok, {} warnings, {} failures, {} skipped in {} ms (exit {})\n",
            self.status.label().to_uppercase(),
            s.ok,
            s.warn,
            s.fail,
            s.skip,
            self.duration_ms,
            self.exit_code
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_the_worst_status_and_skip_counts_as_ok() {
        let r = |checks| Report::new("K".into(), "t".into(), 0, checks);
        assert_eq!(r(vec![CheckResult::ok("a.b", "x"), CheckResult::skip("a.c", "y")]).exit_code, 0);
        assert_eq!(r(vec![CheckResult::ok("a.b", "x"), CheckResult::warn("a.c", "y", "z")]).exit_code, 1);
        let failing = r(vec![CheckResult::fail("a.b", "x", "do"), CheckResult::warn("a.c", "y", "z")]);
        assert_eq!(failing.exit_code, 2);
        assert_eq!(failing.summary, Summary { ok: 0, warn: 1, fail: 1, skip: 0 });
        let json = serde_json::to_value(&failing).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["checks"][0]["status"], "fail");
        assert_eq!(json["checks"][1]["action"], "z");
        assert!(failing.to_text().contains("→ do"));
    }
}
