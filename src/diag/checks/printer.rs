//! Receipt printer: its state through the real-time status requests (paper, cover, error).
//! Nothing is printed: a test receipt would use paper meant for people.

use std::time::Instant;

use kiosk_config::PrinterDriver;
use kiosk_hal::PrinterStatus;

use crate::diag::{timed, CheckResult, Context};

const ID: &str = "printer.status";
const CABLE: &str = "check the printer's power and cable and the `printer.device` setting; then run `kiosk diag --only printer`";

pub(super) fn run(cx: &Context<'_>, out: &mut Vec<CheckResult>) {
    let p = &cx.config.printer;
    if p.driver == PrinterDriver::None {
        out.push(CheckResult::skip(
            ID,
            "no printer configured (`printer.driver = \"none\"`): receipts are offered as a QR code only",
        ));
        return;
    }
    out.push(timed(|| {
        let mut printer = match crate::wiring::open_printer(cx.config, &cx.simulation()) {
            Ok(Some(printer)) => printer,
            Ok(None) => return CheckResult::skip(ID, "no printer configured"),
            Err(e) => return super::open_failed(ID, &e, CABLE),
        };
        let started = Instant::now();
        let status = match printer.status() {
            Ok(status) => status,
            Err(e) => return CheckResult::fail(ID, e.to_string(), CABLE),
        };
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let where_ = match p.driver {
            PrinterDriver::Simulator => "simulated ESC/POS printer".to_owned(),
            _ => p.device.clone(),
        };
        let value = format!("{where_}: {status}");
        let result = match (status, status.action()) {
            (PrinterStatus::Ready, _) | (_, None) => CheckResult::ok(ID, value),
            (PrinterStatus::PaperLow, Some(action)) => CheckResult::warn(ID, value, action),
            (_, Some(action)) => CheckResult::fail(ID, value, action),
        };
        result.with("status_round_trips_ms", ms)
    }));
}
