//! The checks, one module per group. Each group opens what it needs once and pushes one
//! result per check; a check that cannot run because an earlier one of its group failed
//! fails too, saying so, so `--only` on a dependent check still reports the problem.

mod camera;
mod clock;
mod display;
mod keys;
mod models;
mod printer;
mod reader;
mod speaker;
mod store;
mod sync;
mod trust;

use super::{CheckResult, Context};

pub(crate) fn run_group(group: &str, cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    match group {
        "models" => models::run(cx, out),
        "camera" => camera::run(cx, out),
        "reader" => reader::run(cx, out),
        "display" => display::run_display(cx, out),
        "input" => display::run_input(cx, out),
        "speaker" => speaker::run(cx, out),
        "printer" => printer::run(cx, out),
        "store" => store::run(cx, out),
        "keys" => keys::run(cx, out),
        "clock" => clock::run(cx, out),
        "sync" => sync::run(cx, out),
        "audit" => store::run_audit(cx, out),
        "trust" => trust::run(cx, out),
        _ => {}
    }
}

/// The result for checks that depend on one that failed.
pub(crate) fn blocked(id: &str, cause_id: &str, action: &str) -> CheckResult {
    CheckResult::fail(id, format!("not run: {cause_id} failed"), action)
}

/// A device that did not open. A simulator asked of a production build gets its own action:
/// no cable to check, the configuration names a device this binary does not have.
pub(crate) fn open_failed(id: &str, error: &crate::wiring::OpenError, action: &str) -> CheckResult {
    match error {
        crate::wiring::OpenError::SimulatorNotBuilt { key, .. } => CheckResult::fail(
            id,
            error.to_string(),
            format!("set `{key}` to the real driver the kiosk has (deploy/site.example.toml); simulators run only in a demo build"),
        ),
        _ => CheckResult::fail(id, error.to_string(), action),
    }
}
