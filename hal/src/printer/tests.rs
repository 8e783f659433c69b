//! Driver against simulator, over a real pty.

use std::time::{Duration, Instant};

use super::escpos::{Align, Printed, PrintedLine};
use super::sim::{PaperLevel, PrinterFaults, PrinterSimConfig, SimulatedPrinter};
use super::*;

fn printer(faults: PrinterFaults) -> SimulatedPrinter {
    SimulatedPrinter::spawn(PrinterSimConfig { faults, ..PrinterSimConfig::default() }, 32)
        .unwrap()
        .with_status_timeout(Duration::from_millis(300))
}

fn receipt() -> Receipt {
    Receipt::new()
        .title("Счёт открыт")
        .separator()
        .key_value("Клиент", "Иванова А. П.")
        .key_value("Счёт", "40817810000000000001")
        .text("Отсканируйте код в мобильном банке")
        .qr("KA1.eyJrIjoiS0lPU0sifQ.c2ln")
}

#[test]
fn prints_a_receipt_that_decodes_back_to_its_lines_and_qr() {
    let mut printer = printer(PrinterFaults::default());
    let log = printer.log();
    assert_eq!(printer.status().unwrap(), PrinterStatus::Ready);
    printer.print(&receipt()).unwrap();
    let receipts = log.receipts();
    assert_eq!(receipts.len(), 1);
    let printed = &receipts[0];
    assert_eq!(
        printed.lines(),
        vec![
            "Счёт открыт",
            "--------------------------------",
            "Клиент             Иванова А. П.",
            "Счёт        40817810000000000001",
            "Отсканируйте код в мобильном",
            "банке",
        ]
    );
    assert_eq!(
        printed.items[0],
        Printed::Line(PrintedLine {
            text: "Счёт открыт".into(),
            bold: true,
            double: true,
            align: Align::Center
        })
    );
    assert_eq!(printed.qr_payloads(), vec!["KA1.eyJrIjoiS0lPU0sifQ.c2ln"]);
    assert!(log.decode_errors().is_empty(), "{:?}", log.decode_errors());
    // Status before and after printing: three requests each, plus the first status().
    assert_eq!(log.status_requests(), 9);
    let text = log.transcript(32);
    assert!(text.starts_with("  СЧЁТ ОТКРЫТ\n---"), "{text}");
    assert!(text.contains("[QR: KA1.eyJrIjoiS0lPU0sifQ.c2ln]"), "{text}");

    printer.print(&Receipt::new().text("second")).unwrap();
    assert_eq!(log.receipts().len(), 2);
    assert_eq!(log.receipts()[1].lines(), vec!["second"]);
}

#[test]
fn status_follows_the_printer_state() {
    let mut printer = printer(PrinterFaults::default());
    let log = printer.log();
    for (faults, expected) in [
        (PrinterFaults { paper: PaperLevel::Low, ..Default::default() }, PrinterStatus::PaperLow),
        (PrinterFaults { paper: PaperLevel::Out, ..Default::default() }, PrinterStatus::PaperOut),
        (PrinterFaults { cover_open: true, ..Default::default() }, PrinterStatus::CoverOpen),
        (PrinterFaults { error: true, ..Default::default() }, PrinterStatus::Offline),
        (PrinterFaults::default(), PrinterStatus::Ready),
    ] {
        log.set_faults(faults);
        assert_eq!(printer.status().unwrap(), expected, "{faults:?}");
    }
}

#[test]
fn a_silent_printer_is_offline_within_the_timeout() {
    let mut printer = printer(PrinterFaults { silent: true, ..Default::default() });
    let started = Instant::now();
    assert_eq!(printer.status().unwrap(), PrinterStatus::Offline);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    match printer.print(&receipt()) {
        Err(PrinterError::NotReady { status: PrinterStatus::Offline }) => {}
        other => panic!("expected not ready, got {other:?}"),
    }
}

#[test]
fn refuses_to_print_without_paper_and_prints_with_low_paper() {
    let mut printer = printer(PrinterFaults { paper: PaperLevel::Out, ..Default::default() });
    let log = printer.log();
    let error = printer.print(&receipt()).unwrap_err();
    assert!(matches!(error, PrinterError::NotReady { status: PrinterStatus::PaperOut }), "{error:?}");
    assert!(error.to_string().contains("paper roll"), "{error}");
    assert!(log.receipts().is_empty());
    log.set_faults(PrinterFaults { paper: PaperLevel::Low, ..Default::default() });
    printer.print(&receipt()).unwrap();
    assert_eq!(log.receipts().len(), 1);
}

#[test]
fn a_cover_opened_while_printing_is_reported() {
    // The cover opens after the status check, while the receipt is on its way.
    let mut printer =
        SimulatedPrinter::spawn(PrinterSimConfig { baud: 9600, ..Default::default() }, 32).unwrap();
    let log = printer.log();
    let opener = {
        let log = log.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(5);
            while log.status_requests() < 3 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            log.set_faults(PrinterFaults { cover_open: true, ..Default::default() });
        })
    };
    let long = receipt().text("x ".repeat(300));
    let result = printer.print(&long);
    opener.join().unwrap();
    assert!(matches!(result, Err(PrinterError::NotReady { status: PrinterStatus::CoverOpen })), "{result:?}");
    assert!(log.receipts().is_empty(), "a receipt was cut although the cover was open");
}

#[test]
fn a_device_file_that_is_not_a_tty_is_written_as_a_file() {
    // Like /dev/usb/lp0: no termios. Nothing answers status on a plain file: offline.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lp0");
    std::fs::write(&path, b"").unwrap();
    let mut printer = EscPosPrinter::open(path.to_str().unwrap(), 9600, 32)
        .unwrap()
        .with_status_timeout(Duration::from_millis(50));
    assert_eq!(printer.status().unwrap(), PrinterStatus::Offline);
    let written = std::fs::read(&path).unwrap();
    assert_eq!(written, [0x10, 0x04, 1], "the status request went to the file");
    let missing = EscPosPrinter::open("/nonexistent/lp9", 9600, 32).err().unwrap();
    assert!(missing.to_string().contains("printer.device"), "{missing}");
}
