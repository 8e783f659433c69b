//! Receipt printer: its state through the real-time status requests (paper, cover, error).
//! Nothing is printed: a test receipt would use paper meant for people.

use std::time::Instant;

use kiosk_config::PrinterDriver;
use kiosk_hal::printer::sim::{PaperLevel, PrinterFaults, PrinterSimConfig, SimulatedPrinter};
use kiosk_hal::{Printer, PrinterStatus};

use crate::app::devices;
use crate::diag::{timed, CheckResult, Context, SimulatedFault};

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
        let opened = match simulated_fault(cx) {
            Some(faults) if p.driver == PrinterDriver::Simulator => {
                SimulatedPrinter::spawn(PrinterSimConfig { baud: p.baud, faults }, p.columns)
                    .map(|printer| Some(Box::new(printer) as Box<dyn Printer>))
                    .map_err(|e| e.to_string())
            }
            _ => devices::open_printer(cx.config).map_err(|e| e.to_string()),
        };
        let mut printer = match opened {
            Ok(Some(printer)) => printer,
            Ok(None) => return CheckResult::skip(ID, "no printer configured"),
            Err(message) => return CheckResult::fail(ID, message, CABLE),
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

fn simulated_fault(cx: &Context<'_>) -> Option<PrinterFaults> {
    let faults = match cx.fault? {
        SimulatedFault::PrinterPaperLow => {
            PrinterFaults { paper: PaperLevel::Low, ..PrinterFaults::default() }
        }
        SimulatedFault::PrinterPaperOut => {
            PrinterFaults { paper: PaperLevel::Out, ..PrinterFaults::default() }
        }
        SimulatedFault::PrinterCoverOpen => PrinterFaults { cover_open: true, ..PrinterFaults::default() },
        SimulatedFault::PrinterOffline => PrinterFaults { silent: true, ..PrinterFaults::default() },
        _ => return None,
    };
    Some(faults)
}
