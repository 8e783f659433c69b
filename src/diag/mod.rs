//! Technician diagnostics and fleet health: `kiosk diag` checks every device, model, key,
//! store and link and says what to do about each problem; `health` serves `/healthz`,
//! `/readyz` and `/metrics` for `kiosk run`; `notify` talks to systemd.
//!
//! **Architecture invariant:** diagnostics only read: no check writes the database, moves a
//! card or changes a key. Devices are opened through `wiring`, as `kiosk run` opens them.

pub mod checks;
pub mod faults;
pub mod health;
pub mod metrics;
pub mod notify;
pub mod report;

pub use faults::SimulatedFault;
pub use report::{CheckResult, Report, Status, Summary, SCHEMA};

use std::path::PathBuf;
use std::time::Instant;

use kiosk_config::Config;
use kiosk_hal::InputEvent;

/// Problems with how diag was asked to run (not findings: those are check results).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiagError {
    #[error("unknown check `{0}` in --only; known checks and groups: {known}", known = catalogue_text())]
    UnknownCheck(String),
    #[error("--simulate-fault {fault} needs the simulated {device} (`{key}` in the configuration); refusing to pretend a real device is faulty")]
    FaultNeedsSimulator { fault: &'static str, device: &'static str, key: &'static str },
}

/// How to run the checks.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Options {
    /// Check ids or group names (`reader`, `reader.firmware`); empty: everything.
    pub only: Vec<String>,
    /// Checks that need a person at the kiosk (touching the screen) run only when true.
    pub interactive: bool,
    /// Makes one simulated device faulty (tests and training).
    pub fault: Option<SimulatedFault>,
    /// Folder with kiosk.db and keys/ (default: `kiosk.data_dir`).
    pub data_dir: Option<PathBuf>,
}

/// What every check may look at.
pub struct Context<'a> {
    pub config: &'a Config,
    pub data_dir: PathBuf,
    pub interactive: bool,
    pub fault: Option<SimulatedFault>,
}

impl Context<'_> {
    /// How diag's simulated devices behave: the fault asked for, three cards in the reader's
    /// retain bin (so the counter has something to report), and a simulated technician who
    /// touches the middle of the screen.
    pub fn simulation(&self) -> crate::wiring::Simulation {
        let d = &self.config.display;
        crate::wiring::Simulation {
            fault: self.fault,
            retain_bin_count: 3,
            touches: vec![InputEvent::Touch { x: d.width as i32 / 2, y: d.height as i32 / 2 }],
        }
    }
}

/// Every check id by group, in the order they run. `models.<id>` has one check per model.
pub const CATALOGUE: &[(&str, &[&str])] = &[
    ("config", &["config.valid", "config.production"]),
    ("models", &["models.manifest", "models.<id>", "models.load", "models.inference"]),
    ("camera", &["camera.open", "camera.frame_rate", "camera.exposure"]),
    ("reader", &["reader.answers", "reader.firmware", "reader.retain_bin", "reader.self_test"]),
    ("display", &["display.open", "display.test_pattern"]),
    ("input", &["input.open", "input.touch"]),
    ("speaker", &["speaker.ready"]),
    ("printer", &["printer.status"]),
    ("store", &["store.integrity", "store.size", "store.disk_free"]),
    ("keys", &["keys.kek", "keys.identity", "keys.tls_client_key", "keys.client_cert"]),
    ("clock", &["clock.sanity"]),
    ("sync", &["sync.backlog", "sync.oldest_unsent", "sync.last_success", "sync.quarantined", "sync.core_reachable"]),
    ("audit", &["audit.chain"]),
    ("trust", &["trust.store", "trust.crl_fresh", "trust.countries"]),
];

fn catalogue_text() -> String {
    CATALOGUE.iter().map(|(_, ids)| ids.join(", ")).collect::<Vec<_>>().join(", ")
}

/// Whether `selector` names the check `id` (exactly, or as its group or prefix).
fn selects(selector: &str, id: &str) -> bool {
    id == selector || id.strip_prefix(selector).is_some_and(|rest| rest.starts_with('.'))
}

fn known_selector(selector: &str) -> bool {
    selector.starts_with("models.")
        || CATALOGUE.iter().any(|(group, ids)| *group == selector || ids.contains(&selector))
}

/// Which groups to run for `only` (all when empty).
fn groups_to_run(only: &[String]) -> Result<Vec<&'static str>, DiagError> {
    if let Some(unknown) = only.iter().find(|s| !known_selector(s)) {
        return Err(DiagError::UnknownCheck(unknown.clone()));
    }
    Ok(CATALOGUE
        .iter()
        .filter(|(group, _)| only.is_empty() || only.iter().any(|s| selects(s, group) || s.starts_with(&format!("{group}."))))
        .map(|(group, _)| *group)
        .collect())
}

/// Runs the checks and builds the report. A configuration that does not load is itself the
/// finding (`config.valid` fails) and nothing else runs: every other check depends on it.
pub fn run(config_file: Option<&std::path::Path>, options: &Options) -> Result<Report, DiagError> {
    let started = Instant::now();
    let started_at = now_rfc3339();
    let groups = groups_to_run(&options.only)?;
    let config_check = Instant::now();
    let config = match kiosk_config::load(config_file) {
        Ok(config) => config,
        Err(error) => {
            let mut result = CheckResult::fail(
                "config.valid",
                error.to_string(),
                "fix the named line of the site configuration, then run `kiosk config check FILE`",
            );
            result.duration_ms = elapsed_ms(config_check);
            return Ok(Report::new("unknown".into(), started_at, elapsed_ms(started), vec![result]));
        }
    };
    if let Some(fault) = options.fault {
        fault.check_applicable(&config)?;
    }
    let context = Context {
        config: &config,
        data_dir: options.data_dir.clone().unwrap_or_else(|| config.kiosk.data_dir.clone()),
        interactive: options.interactive,
        fault: options.fault,
    };
    let mut results = Vec::new();
    for group in groups {
        let before = results.len();
        if group == "config" {
            let source = config_file.map_or("the built-in defaults".to_owned(), |p| p.display().to_string());
            let mut result = CheckResult::ok("config.valid", format!("{source}: valid (kiosk {})", config.kiosk.id));
            result.duration_ms = elapsed_ms(config_check);
            results.push(result);
            results.push(timed(|| production_check(&config)));
        } else {
            checks::run_group(group, &context, &mut results);
        }
        tracing::debug!(group, checks = results.len() - before, "diag group done");
    }
    if !options.only.is_empty() {
        results.retain(|r| options.only.iter().any(|s| selects(s, &r.id)));
    }
    Ok(Report::new(config.kiosk.id.clone(), started_at, elapsed_ms(started), results))
}

/// Simulated devices, the test CSCA and a file KEK: failures on a street kiosk, allowed on a
/// declared demo.
fn production_check(config: &Config) -> CheckResult {
    const ID: &str = "config.production";
    let found = crate::wiring::not_for_production(config);
    let list = found.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    match (found.is_empty(), config.kiosk.demo) {
        (true, false) => CheckResult::ok(ID, "real devices only, no test CSCA in the trust folder, the KEK a credential"),
        (true, true) => CheckResult::ok(ID, "demo kiosk (kiosk.demo = true) with real devices only"),
        (false, true) => CheckResult::ok(ID, format!("demo kiosk (kiosk.demo = true): {list}")),
        (false, false) => CheckResult::fail(
            ID,
            list,
            "`kiosk run` refuses to start: configure each named device's real driver, a CSCA masterlist without the test CSCA and `store.kek = \"credential\"` (deploy/site.example.toml), or declare a demo kiosk with `demo = true` under [kiosk]",
        )
        .with("not_for_production", found.len() as f64),
    }
}

pub(crate) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs one check and records how long it took.
pub(crate) fn timed(check: impl FnOnce() -> CheckResult) -> CheckResult {
    let started = Instant::now();
    let mut result = check();
    result.duration_ms = elapsed_ms(started);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_ids_groups_and_model_ids() {
        assert!(selects("reader", "reader.firmware"));
        assert!(selects("reader.firmware", "reader.firmware"));
        assert!(!selects("read", "reader.firmware"));
        assert!(selects("models", "models.yunet"));
        assert_eq!(groups_to_run(&["reader.firmware".into()]).unwrap(), vec!["reader"]);
        assert_eq!(groups_to_run(&["models.yunet".into()]).unwrap(), vec!["models"]);
        assert_eq!(groups_to_run(&[]).unwrap().len(), CATALOGUE.len());
        let err = groups_to_run(&["bogus".into()]).unwrap_err();
        assert!(err.to_string().contains("reader.firmware"), "{err}");
    }
}
