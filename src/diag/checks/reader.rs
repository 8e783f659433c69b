//! Card reader: answers (initialise), firmware version, retain-bin counter, and a self-test
//! of the line (status round trips). Nothing here moves or captures a card.

use std::time::Instant;

use kiosk_hal::CardReader;

use super::blocked;
use crate::diag::{timed, CheckResult, Context};
use crate::wiring::{self, OpenedReader};

const CABLE: &str = "check the reader's serial cable and power and the `card_reader.port` setting; then run `kiosk diag --only reader`";
/// Status round trips of the self-test, and the slowest acceptable one.
const SELF_TEST_ROUNDS: u32 = 5;
const SLOW_ROUND_TRIP_MS: f64 = 250.0;

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    // A simulated reader's device lives as long as the reader.
    let mut reader: Option<OpenedReader> = None;
    let answers = timed(|| {
        let mut opened = match wiring::open_card_reader(cx.config, &cx.simulation()) {
            Ok(r) => r,
            Err(e) => return super::open_failed("reader.answers", &e, CABLE),
        };
        let port = opened.port().to_owned();
        match opened.initialise() {
            Ok(status) => {
                reader = Some(opened);
                CheckResult::ok("reader.answers", format!("{port}: initialised, card {:?}", status.card_position))
            }
            Err(e) => CheckResult::fail("reader.answers", format!("{port}: {e}"), CABLE),
        }
    });
    out.push(answers);
    let Some(mut reader) = reader else {
        for id in ["reader.firmware", "reader.retain_bin", "reader.self_test"] {
            out.push(blocked(id, "reader.answers", CABLE));
        }
        return;
    };
    out.push(timed(|| match reader.firmware_version() {
        Ok(version) => CheckResult::ok("reader.firmware", version),
        Err(e) => CheckResult::fail("reader.firmware", e.to_string(), CABLE),
    }));
    out.push(timed(|| match reader.retain_bin_count() {
        Ok(count) => {
            let warn_at = cx.config.diag.retain_bin_warn;
            let value = format!("{count} cards in the retain bin (empty it at {warn_at})");
            let result = if u32::from(count) >= warn_at {
                CheckResult::warn("reader.retain_bin", value, "empty the retain bin under dual control, record the cards, reset the counter")
            } else {
                CheckResult::ok("reader.retain_bin", value)
            };
            result.with("cards", f64::from(count))
        }
        Err(e) => CheckResult::fail("reader.retain_bin", e.to_string(), CABLE),
    }));
    out.push(timed(|| self_test(&mut reader)));
}

/// Status round trips: each must succeed, give the same answer, and be quick.
fn self_test(reader: &mut dyn CardReader) -> CheckResult {
    const ID: &str = "reader.self_test";
    let mut first = None;
    let mut slowest_ms = 0.0f64;
    for round in 1..=SELF_TEST_ROUNDS {
        let started = Instant::now();
        let status = match reader.status() {
            Ok(status) => status,
            Err(e) => return CheckResult::fail(ID, format!("status round trip {round}: {e}"), CABLE),
        };
        slowest_ms = slowest_ms.max(started.elapsed().as_secs_f64() * 1000.0);
        match &first {
            None => first = Some(status),
            Some(f) if *f != status => {
                return CheckResult::warn(ID, format!("status changed between round trips: {f:?} then {status:?}"), "a card or document was moved during the test: clear the reader and run it again")
            }
            Some(_) => {}
        }
    }
    let value = format!("{SELF_TEST_ROUNDS} status round trips, slowest {slowest_ms:.0} ms");
    let result = if slowest_ms > SLOW_ROUND_TRIP_MS {
        CheckResult::warn(ID, value, "the line is slow: check the baud rate matches the reader and the cable length")
    } else {
        CheckResult::ok(ID, value)
    };
    result.with("slowest_round_trip_ms", slowest_ms)
}
