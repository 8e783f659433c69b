//! Driver against simulator, over a real pty.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::sim::{spawn, Faults, OversizeRead, SimulatorConfig, VirtualPassport};
use super::*;

const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

fn passport() -> VirtualPassport {
    VirtualPassport::new(vec![LINE1.to_owned(), LINE2.to_owned()], vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).without_bac()
}

fn fast() -> Timeouts {
    Timeouts {
        ack: Duration::from_millis(300),
        reply: Duration::from_secs(2),
        long_reply: Duration::from_secs(3),
    }
}

fn open(config: SimulatorConfig) -> (sim::SimulatorHandle, SerialCardReader) {
    let sim = spawn(config).unwrap();
    let reader = SerialCardReader::open(sim.port_path(), 115_200).unwrap().with_timeouts(fast());
    (sim, reader)
}

#[test]
fn basic_commands() {
    let config = SimulatorConfig { retain_bin_count: 0x0102, ..SimulatorConfig::default() };
    let (_sim, mut reader) = open(config);
    assert_eq!(reader.initialise().unwrap().card_position, CardPosition::NoCard);
    assert_eq!(reader.status().unwrap().card_position, CardPosition::NoCard);
    assert_eq!(reader.firmware_version().unwrap(), "KIOSK-SIM CRT571 1.0");
    assert_eq!(reader.retain_bin_count().unwrap(), 0x0102);
}

#[test]
fn scan_mrz_and_apdu() {
    let (_sim, mut reader) = open(SimulatorConfig::with_document(passport()));
    assert_eq!(reader.scan_mrz().unwrap(), vec![LINE1.to_owned(), LINE2.to_owned()]);
    let card = reader.activate_contactless().unwrap();
    assert_eq!(card.card_type, 'A');
    let select = [0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
    assert_eq!(reader.transmit(ChipInterface::Contactless, &select).unwrap(), [0x90, 0x00]);
    reader.deactivate_contactless().unwrap();
}

fn device_error(result: Result<impl std::fmt::Debug, CardReaderError>) -> (String, DeviceErrorKind) {
    match result {
        Err(CardReaderError::Device { code, kind }) => (code, kind),
        other => panic!("expected a device error, got {other:?}"),
    }
}

#[test]
fn no_document_errors() {
    let (_sim, mut reader) = open(SimulatorConfig::default());
    assert_eq!(device_error(reader.scan_mrz()), ("80".to_owned(), DeviceErrorKind::NoDocument));
    assert_eq!(device_error(reader.activate_contactless()).1, DeviceErrorKind::ContactlessNoCard);
    let apdu = reader.transmit(ChipInterface::Contactless, &[0x00, 0xB0, 0x00, 0x00, 0x10]);
    assert_eq!(device_error(apdu).0, "70");
    assert_eq!(device_error(reader.power_on_contact()).1, DeviceErrorKind::NoCard);
    assert_eq!(device_error(reader.eject()).0, "40");
}

#[test]
fn a_passport_placed_after_the_start_is_read_and_gone_once_taken_away() {
    let (sim, mut reader) = open(SimulatorConfig::default());
    assert_eq!(device_error(reader.scan_mrz()).1, DeviceErrorKind::NoDocument);
    let tray = sim.tray();
    tray.place(passport());
    assert_eq!(reader.scan_mrz().unwrap(), vec![LINE1.to_owned(), LINE2.to_owned()]);
    assert_eq!(reader.activate_contactless().unwrap().card_type, 'A');
    tray.take_away();
    assert_eq!(device_error(reader.scan_mrz()).1, DeviceErrorKind::NoDocument);
    // The chip left the field with the passport: an APDU finds no card.
    let apdu = reader.transmit(ChipInterface::Contactless, &[0x00, 0xB0, 0x00, 0x00, 0x10]);
    assert_eq!(device_error(apdu).0, "70");
}

#[test]
fn resends_after_nak() {
    let faults = Faults { nak_first_commands: 2, ..Faults::default() };
    let (sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    reader.status().unwrap();
    assert_eq!(sim.stats().naks_sent.load(Ordering::Relaxed), 2);
    assert_eq!(sim.stats().commands.load(Ordering::Relaxed), 1);
}

#[test]
fn gives_up_after_three_naks() {
    let faults = Faults { nak_first_commands: 3, ..Faults::default() };
    let (_sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    assert!(matches!(reader.status(), Err(CardReaderError::NoAcknowledge { attempts: 3 })));
    // The next command goes through.
    reader.status().unwrap();
}

#[test]
fn damaged_reply_is_naked_and_resent() {
    let faults = Faults { corrupt_first_replies: 1, ..Faults::default() };
    let (sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    assert_eq!(reader.firmware_version().unwrap(), "KIOSK-SIM CRT571 1.0");
    assert_eq!(sim.stats().naks_received.load(Ordering::Relaxed), 1);
}

#[test]
fn garbage_before_reply_is_skipped() {
    let faults = Faults {
        garbage_before_reply: b"\x00\xFF\x13 line noise \x7F\xF2\x01".to_vec(),
        ..Faults::default()
    };
    let mut config = SimulatorConfig::with_document(passport());
    config.faults = faults;
    let (_sim, mut reader) = open(config);
    assert_eq!(reader.scan_mrz().unwrap().len(), 2);
    assert_eq!(reader.retain_bin_count().unwrap(), 0);
}

#[test]
fn slow_reply_times_out_and_is_cancelled() {
    let faults = Faults { reply_delay: Duration::from_millis(800), ..Faults::default() };
    let (sim, reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    let mut reader = reader.with_timeouts(Timeouts { reply: Duration::from_millis(300), ..fast() });
    assert!(matches!(reader.status(), Err(CardReaderError::Timeout { timeout_ms: 300 })));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(sim.stats().cancelled.load(Ordering::Relaxed), 1);
}

#[test]
fn silent_line_is_no_acknowledge() {
    // A pty nobody answers on: the host tries three times, then reports it.
    let pty = crate::pty_device::open_raw_pty().unwrap();
    let mut reader = SerialCardReader::open(&pty.slave_path.to_string_lossy(), 9600)
        .unwrap()
        .with_timeouts(Timeouts { ack: Duration::from_millis(50), ..fast() });
    assert!(matches!(reader.status(), Err(CardReaderError::NoAcknowledge { attempts: 3 })));
}

#[test]
fn oversize_read_answered_6c_through_the_line() {
    let mut config = SimulatorConfig::with_document(passport().with_max_read(0x40, OversizeRead::CorrectLe));
    config.baud = 921_600;
    let (_sim, mut reader) = open(config);
    reader.activate_contactless().unwrap();
    let cl = ChipInterface::Contactless;
    reader.transmit(cl, &[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01]).unwrap();
    reader.transmit(cl, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x01]).unwrap();
    assert_eq!(reader.transmit(cl, &[0x00, 0xB0, 0x00, 0x00, 0x00]).unwrap(), [0x6C, 0x40]);
}

#[test]
fn drop_deactivates_field() {
    let (sim, mut reader) = open(SimulatorConfig::with_document(passport()));
    reader.activate_contactless().unwrap();
    let before = sim.stats().commands.load(Ordering::Relaxed);
    drop(reader);
    assert_eq!(sim.stats().commands.load(Ordering::Relaxed), before + 1);
}

#[test]
fn reply_with_a_dropped_byte_is_naked_and_resent() {
    let faults = Faults { drop_byte_in_first_replies: 2, ..Faults::default() };
    let (sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    assert_eq!(reader.firmware_version().unwrap(), "KIOSK-SIM CRT571 1.0");
    assert_eq!(reader.retain_bin_count().unwrap(), 0);
    // Each cut reply was NAKed once and resent whole.
    assert_eq!(sim.stats().naks_received.load(Ordering::Relaxed), 2);
}

#[test]
fn silent_device_is_retried_then_answers() {
    let faults = Faults { silent_first_commands: 2, ..Faults::default() };
    let (sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    reader.status().unwrap();
    assert_eq!(sim.stats().commands.load(Ordering::Relaxed), 1);
}

#[test]
fn card_pulled_out_and_chip_timeout_are_typed() {
    let faults = Faults { chip_timeout_at_apdu: Some(1), pull_out_after_apdus: Some(2), ..Faults::default() };
    let mut config = SimulatorConfig::with_document(passport());
    config.faults = faults;
    let (_sim, mut reader) = open(config);
    reader.activate_contactless().unwrap();
    let select = [0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
    let cl = ChipInterface::Contactless;
    assert_eq!(device_error(reader.transmit(cl, &select)).1, DeviceErrorKind::ChipCommunication);
    assert_eq!(reader.transmit(cl, &select).unwrap(), [0x90, 0x00]);
    assert_eq!(device_error(reader.transmit(cl, &select)).1, DeviceErrorKind::ContactlessNoCard);
}

#[test]
fn unplugged_reader_is_reopened_and_reinitialised() {
    let faults = Faults { unplug_after_commands: Some((1, Duration::from_millis(300))), ..Faults::default() };
    let (sim, mut reader) = open(SimulatorConfig { faults, ..SimulatorConfig::default() });
    reader.status().unwrap();
    // The second command meets the unplug: a line error, then the port is gone for a while.
    let started = std::time::Instant::now();
    let first = reader.status();
    assert!(
        matches!(first, Err(CardReaderError::Io(_)) | Err(CardReaderError::Timeout { .. })),
        "{first:?}"
    );
    let mut outcome = Vec::new();
    loop {
        match reader.status() {
            Err(CardReaderError::Disconnected { .. }) => outcome.push("disconnected"),
            Err(CardReaderError::Reconnected) => {
                outcome.push("reconnected");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never reconnected: {outcome:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(reader.is_connected());
    assert_eq!(reader.status().unwrap().card_position, CardPosition::NoCard);
    assert_eq!(sim.stats().replugs.load(Ordering::Relaxed), 1);
}

#[test]
fn inserted_bank_card_on_contacts() {
    let config = SimulatorConfig::with_inserted_card(sim::VirtualBankCard::test_card());
    let (_sim, mut reader) = open(config);
    assert_eq!(reader.status().unwrap().card_position, CardPosition::Inside);
    assert_eq!(device_error(reader.transmit(ChipInterface::Contact, &[0x00, 0xB2, 1, 0x0C, 0])).0, "02");
    let atr = reader.power_on_contact().unwrap();
    assert_eq!(atr[0], 0x3B);
    let mut select = vec![0x00, 0xA4, 0x04, 0x00, 14];
    select.extend_from_slice(b"1PAY.SYS.DDF01");
    select.push(0);
    let r = reader.transmit(ChipInterface::Contact, &select).unwrap();
    assert_eq!(r[r.len() - 2..], [0x90, 0x00]);
    reader.power_off_contact().unwrap();
    reader.eject().unwrap();
    assert_eq!(reader.status().unwrap().card_position, CardPosition::NoCard);
}

#[test]
fn a_resend_after_a_late_ack_is_not_executed_twice() {
    // The device holds its ACK 450 ms: past the host's 300 ms, so the host sends the APDU
    // again. The device must recognise the resend and run the APDU once.
    let faults =
        Faults { late_ack_first_commands: Some((5, Duration::from_millis(450))), ..Faults::default() };
    let mut config = SimulatorConfig::with_document(passport());
    config.faults = faults;
    let (sim, mut reader) = open(config);
    reader.activate_contactless().unwrap();
    let cl = ChipInterface::Contactless;
    let select_app = [0x00, 0xA4, 0x04, 0x0C, 0x07, 0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01];
    assert_eq!(reader.transmit(cl, &select_app).unwrap(), [0x90, 0x00]);
    // EF.COM, then two chunks of it: each answer must be the chip's answer to that command.
    assert_eq!(reader.transmit(cl, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x01, 0x1E]).unwrap(), [0x90, 0x00]);
    let head = reader.transmit(cl, &[0x00, 0xB0, 0x00, 0x00, 0x04]).unwrap();
    let rest = reader.transmit(cl, &[0x00, 0xB0, 0x00, 0x04, 0x04]).unwrap();
    assert_eq!(head.len(), 6);
    assert_eq!(head[0], 0x60, "EF.COM starts with tag 60: {head:02X?}");
    assert_eq!(head[4..], [0x90, 0x00]);
    assert_eq!(rest.len(), 6);
    assert_eq!(rest[4..], [0x90, 0x00]);
    let stats = sim.stats();
    // Five commands, each sent at least twice (the ACK came after the host's 300 ms).
    assert_eq!(stats.commands.load(Ordering::Relaxed), 5);
    assert_eq!(stats.resends_recognised.load(Ordering::Relaxed), 5, "{stats:?}");
    assert_eq!(stats.apdus_executed.load(Ordering::Relaxed), 4, "an APDU ran twice: {stats:?}");
    // The same APDU sent again as a new command (its previous reply acknowledged) runs again.
    assert_eq!(reader.transmit(cl, &[0x00, 0xB0, 0x00, 0x00, 0x04]).unwrap(), head);
    assert_eq!(stats.apdus_executed.load(Ordering::Relaxed), 5);
    assert_eq!(stats.resends_recognised.load(Ordering::Relaxed), 5);
}
