//! Clock sanity: not before this software's release, not behind the newest recorded event
//! (tokens, audit rows and sync all depend on time), NTP synchronisation when systemd says.

use std::path::Path;

use crate::diag::{timed, CheckResult, Context};

/// 2026-01-01T00:00:00Z: no kiosk running this software can legitimately be earlier.
const EARLIEST_PLAUSIBLE: i64 = 1_767_225_600;
/// Tolerated step back behind the newest recorded event (NTP slews, not leaps).
const BACKWARDS_TOLERANCE_MS: i64 = 5 * 60 * 1000;

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    out.push(timed(|| check(cx)));
}

fn check(cx: &Context<'_>) -> CheckResult {
    const ID: &str = "clock.sanity";
    let now = time::OffsetDateTime::now_utc();
    let now_ms = crate::store::unix_ms_now();
    let fix = "set the clock (`timedatectl set-ntp true`; check the NTP server is reachable); tokens and certificates depend on it";
    if now.unix_timestamp() < EARLIEST_PLAUSIBLE {
        return CheckResult::fail(ID, format!("system time {now} is before this software was released"), fix);
    }
    let newest = newest_event_ms(&cx.data_dir.join("kiosk.db"));
    if let Some(newest) = newest {
        if now_ms + BACKWARDS_TOLERANCE_MS < newest {
            return CheckResult::fail(
                ID,
                format!("system time is {} s behind the newest recorded event", (newest - now_ms) / 1000),
                fix,
            )
            .with("behind_s", ((newest - now_ms) / 1000) as f64);
        }
    }
    let ntp = if Path::new("/run/systemd/timesync/synchronized").exists() {
        "NTP synchronised"
    } else if Path::new("/run/systemd/timesync").exists() {
        return CheckResult::warn(ID, format!("{now}: NTP not synchronised yet"), "check the NTP server is reachable: `timedatectl timesync-status`");
    } else {
        "NTP state unknown (no systemd-timesyncd)"
    };
    CheckResult::ok(ID, format!("{}; {ntp}", crate::diag::now_rfc3339()))
}

/// The newest time the kiosk wrote to its database (audit log, outbox).
fn newest_event_ms(db: &Path) -> Option<i64> {
    let conn = super::store::open_read_only(db).ok()?;
    conn.query_row(
        "SELECT MAX(t) FROM (SELECT MAX(at) AS t FROM audit_log UNION ALL SELECT MAX(created_at) FROM outbox)",
        [],
        |r| r.get::<_, Option<i64>>(0),
    )
    .ok()
    .flatten()
}
