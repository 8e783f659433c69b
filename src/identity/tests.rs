//! `read_passport` against the simulated reader over a real pty, driven by the serial driver.

use kiosk_hal::card_reader::sim::{
    spawn, Faults, OversizeRead, SimulatorConfig, SimulatorHandle, VirtualPassport,
};
use kiosk_hal::card_reader::{
    CardReader, CardReaderError, ChipInterface, ContactlessCard, ReaderStatus, SerialCardReader,
};

use super::mrz::check_digit;
use super::*;

const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

fn face(len: usize) -> Vec<u8> {
    let mut face = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F'];
    face.extend((0..len).map(|i| (i * 7 % 256) as u8));
    face
}

fn specimen(face: Vec<u8>) -> VirtualPassport {
    VirtualPassport::new(vec![LINE1.to_owned(), LINE2.to_owned()], face)
}

fn start(config: SimulatorConfig) -> (SimulatorHandle, SerialCardReader) {
    let sim = spawn(config).unwrap();
    let reader = SerialCardReader::open(sim.port_path(), 115_200).unwrap();
    (sim, reader)
}

fn fast(passport: VirtualPassport) -> SimulatorConfig {
    SimulatorConfig { baud: 921_600, ..SimulatorConfig::with_document(passport) }
}

#[test]
fn reads_the_specimen_passport_over_a_pty() {
    let image = face(20_000);
    let passport = specimen(image.clone());
    let expected_bytes = passport.ef_com().len() + passport.dg1().len() + passport.dg2().len();
    let (_sim, mut reader) = start(SimulatorConfig::with_document(passport));
    let read = read_passport(&mut reader).unwrap();
    assert_eq!(read.mrz, Mrz::from_lines(&[LINE1, LINE2]).unwrap());
    assert_eq!(read.mrz.surname, "ERIKSSON");
    assert_eq!(read.face_image.format, ImageFormat::Jpeg);
    assert_eq!(read.face_image.bytes, image);
    assert_eq!(read.bytes_read, expected_bytes);
}

#[test]
fn large_dg2_beyond_32k_and_lowered_chunk_sizes() {
    // 6700 refusals, and B1 reads past offset 0x7FFF.
    let image = face(60_000);
    let passport = specimen(image.clone()).with_max_read(0x80, OversizeRead::WrongLength);
    let (_sim, mut reader) = start(fast(passport));
    assert_eq!(read_passport(&mut reader).unwrap().face_image.bytes, image);

    // 6Cxx answers, re-issued with the chip's Le.
    let image = face(40_000);
    let passport = specimen(image.clone()).with_max_read(0x40, OversizeRead::CorrectLe);
    let (_sim, mut reader) = start(fast(passport));
    assert_eq!(read_passport(&mut reader).unwrap().face_image.bytes, image);
}

#[test]
fn no_document_is_a_clear_error() {
    let (_sim, mut reader) = start(SimulatorConfig::default());
    let error = read_passport(&mut reader).unwrap_err();
    assert!(matches!(error, IdentityError::NoDocument), "{error}");
    assert!(error.to_string().contains("key in the document number"));
}

#[test]
fn garbage_before_replies_is_skipped() {
    let image = face(3_000);
    let mut config = fast(specimen(image.clone()));
    config.faults =
        Faults { garbage_before_reply: b"\x00\x11\xFFnoise\x7F\xF2\x13".to_vec(), ..Faults::default() };
    let (_sim, mut reader) = start(config);
    assert_eq!(read_passport(&mut reader).unwrap().face_image.bytes, image);
}

/// The serial driver, but the window shows another document's MRZ.
struct ForgedPage {
    inner: SerialCardReader,
    page: Vec<String>,
}

impl CardReader for ForgedPage {
    fn initialise(&mut self) -> Result<ReaderStatus, CardReaderError> {
        self.inner.initialise()
    }
    fn status(&mut self) -> Result<ReaderStatus, CardReaderError> {
        self.inner.status()
    }
    fn firmware_version(&mut self) -> Result<String, CardReaderError> {
        self.inner.firmware_version()
    }
    fn retain_bin_count(&mut self) -> Result<u16, CardReaderError> {
        self.inner.retain_bin_count()
    }
    fn scan_mrz(&mut self) -> Result<Vec<String>, CardReaderError> {
        Ok(self.page.clone())
    }
    fn activate_contactless(&mut self) -> Result<ContactlessCard, CardReaderError> {
        self.inner.activate_contactless()
    }
    fn deactivate_contactless(&mut self) -> Result<(), CardReaderError> {
        self.inner.deactivate_contactless()
    }
    fn power_on_contact(&mut self) -> Result<Vec<u8>, CardReaderError> {
        self.inner.power_on_contact()
    }
    fn power_off_contact(&mut self) -> Result<(), CardReaderError> {
        self.inner.power_off_contact()
    }
    fn transmit(&mut self, interface: ChipInterface, command: &[u8]) -> Result<Vec<u8>, CardReaderError> {
        self.inner.transmit(interface, command)
    }
    fn eject(&mut self) -> Result<(), CardReaderError> {
        self.inner.eject()
    }
    fn retain(&mut self) -> Result<(), CardReaderError> {
        self.inner.retain()
    }
}

/// The specimen's second line with another document number, all check digits recomputed.
fn other_line2() -> String {
    let number = "X12345678";
    let d = |s: &str| char::from(b'0' + check_digit(s).unwrap());
    let mut line = format!("{number}{}UTO7408122F1204159ZE184226B<<<<<1", d(number));
    let composite = format!("{}{}{}", &line[0..10], &line[13..20], &line[21..43]);
    line.push(d(&composite));
    line
}

#[test]
fn chip_of_another_document_is_a_mismatch() {
    let page = vec![LINE1.to_owned(), other_line2()];
    assert!(Mrz::from_lines(&page).is_ok());
    let (_sim, inner) = start(fast(specimen(face(500))));
    let mut reader = ForgedPage { inner, page };
    assert!(matches!(read_passport(&mut reader), Err(IdentityError::DocumentMismatch)));
}
