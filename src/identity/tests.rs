//! `read_passport` against the simulated reader over a real pty, driven by the serial driver.

use std::time::{Duration, Instant};

use der::Decode;
use kiosk_hal::card_reader::sim::{
    spawn, test_pki, ChipFaults, Faults, OversizeRead, SimulatorConfig, SimulatorHandle, TestPki, VirtualPassport,
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

/// The trust store holding the test CSCA, as `kiosk-config/csca/` does.
fn trust() -> TrustStore {
    let mut store = TrustStore::default();
    store.add(x509_cert::Certificate::from_der(test_pki().csca_der()).unwrap()).unwrap();
    store
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
    let expected_bytes =
        passport.ef_com().len() + passport.dg1().len() + passport.dg2().len() + passport.sod().len();
    let (_sim, mut reader) = start(SimulatorConfig::with_document(passport));
    let started = Instant::now();
    let read = read_passport(&mut reader, &trust()).unwrap();
    eprintln!("BAC + EF.COM + DG1 + 20 KB DG2 + EF.SOD at 115200 baud: {:?}", started.elapsed());
    assert_eq!(read.access, ChipAccess::Bac);
    assert!(read.authentication.passed(), "{:?}", read.authentication);
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
    assert_eq!(read_passport(&mut reader, &trust()).unwrap().face_image.bytes, image);

    // 6Cxx answers, re-issued with the chip's Le.
    let image = face(40_000);
    let passport = specimen(image.clone()).with_max_read(0x40, OversizeRead::CorrectLe);
    let (_sim, mut reader) = start(fast(passport));
    assert_eq!(read_passport(&mut reader, &trust()).unwrap().face_image.bytes, image);
}

#[test]
fn no_document_is_a_clear_error() {
    let (_sim, mut reader) = start(SimulatorConfig::default());
    let error = read_passport(&mut reader, &trust()).unwrap_err();
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
    assert_eq!(read_passport(&mut reader, &trust()).unwrap().face_image.bytes, image);
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
    let mut reader = ForgedPage { inner, page: page.clone() };
    // A BAC chip refuses the key of another document's MRZ.
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(matches!(error, IdentityError::AccessDenied), "{error}");
    // A chip without access control is read, and its DG1 does not match the page.
    let (_sim, inner) = start(fast(specimen(face(500)).without_bac()));
    let mut reader = ForgedPage { inner, page };
    assert!(matches!(read_passport(&mut reader, &trust()), Err(IdentityError::DocumentMismatch)));
}

#[test]
fn plain_chip_is_read_and_authenticated() {
    let (_sim, mut reader) = start(fast(specimen(face(2_000)).without_bac()));
    let read = read_passport(&mut reader, &trust()).unwrap();
    assert_eq!(read.access, ChipAccess::Plain);
    assert!(read.authentication.passed());
}

fn not_trusted(passport: VirtualPassport) -> PaFailure {
    let (_sim, mut reader) = start(fast(passport));
    match read_passport(&mut reader, &trust()) {
        Err(IdentityError::NotTrusted(failure)) => failure,
        other => panic!("expected NotTrusted, got {other:?}"),
    }
}

/// A Document Signer listed in the CSCA's CRL is refused; the same chip is trusted without the
/// CRL, and a passport from another DS of that CSCA is trusted with it.
#[test]
fn revoked_document_signer_is_not_trusted() {
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86_400);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("csca.der"), test_pki().csca_der()).unwrap();
    let revoked = test_pki().revoked_signer().unwrap();
    let (_sim, mut reader) = start(fast(specimen(face(800)).signed_by(&revoked)));
    assert!(read_passport(&mut reader, &TrustStore::load_dir(dir.path()).unwrap()).is_ok());
    std::fs::write(dir.path().join("ut.crl"), test_pki().crl(now - day, now + day).unwrap()).unwrap();
    let store = TrustStore::load_dir(dir.path()).unwrap();
    let (_sim, mut reader) = start(fast(specimen(face(800)).signed_by(&revoked)));
    match read_passport(&mut reader, &store) {
        Err(IdentityError::NotTrusted(PaFailure::DocumentSignerRevoked { crl })) => assert!(crl.ends_with("ut.crl")),
        other => panic!("expected a revoked signer, got {other:?}"),
    }
    let (_sim, mut reader) = start(fast(specimen(face(800))));
    assert!(read_passport(&mut reader, &store).is_ok());
}

#[test]
fn passive_authentication_failures_are_not_trusted() {
    let rogue = TestPki::generate("rogue").unwrap();
    assert!(matches!(not_trusted(specimen(face(800)).signed_by(&rogue)), PaFailure::UnknownIssuer { .. }));
    let altered = ChipFaults { alter_dg2_after_signing: true, ..ChipFaults::default() };
    assert_eq!(not_trusted(specimen(face(800)).with_chip_faults(altered)), PaFailure::HashMismatch(2));
    // The report still gives the data and the verdict, for technicians.
    let altered = ChipFaults { alter_dg2_after_signing: true, ..ChipFaults::default() };
    let (_sim, mut reader) = start(fast(specimen(face(800)).with_chip_faults(altered)));
    let report = read_passport_report(&mut reader, &trust()).unwrap();
    assert_eq!(report.authentication, PassiveAuthentication::Failed(PaFailure::HashMismatch(2)));
    // An empty trust store trusts nobody.
    let (_sim, mut reader) = start(fast(specimen(face(800))));
    let error = read_passport(&mut reader, &TrustStore::default()).unwrap_err();
    assert!(matches!(error, IdentityError::NotTrusted(PaFailure::UnknownIssuer { .. })), "{error}");
}

#[test]
fn one_wrong_mac_is_recovered_by_a_new_session() {
    let faults = ChipFaults { wrong_mac_replies: 1, ..ChipFaults::default() };
    let (_sim, mut reader) = start(fast(specimen(face(3_000)).with_chip_faults(faults)));
    assert!(read_passport(&mut reader, &trust()).unwrap().authentication.passed());
    let faults = ChipFaults { wrong_mac_replies: 1000, ..ChipFaults::default() };
    let (_sim, mut reader) = start(fast(specimen(face(3_000)).with_chip_faults(faults)));
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(matches!(error, IdentityError::SecureMessaging(sm::SmError::BadMac)), "{error}");
}

#[test]
fn truncated_and_oversized_data_groups_are_typed_errors() {
    let faults = ChipFaults { truncate_dg2: Some(1_000), ..ChipFaults::default() };
    let (_sim, mut reader) = start(fast(specimen(face(3_000)).with_chip_faults(faults)));
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(matches!(error, IdentityError::Chip { what: "DG2", .. }), "{error}");
    let faults = ChipFaults { oversize_dg2: true, ..ChipFaults::default() };
    let (_sim, mut reader) = start(fast(specimen(face(3_000)).with_chip_faults(faults)));
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(matches!(error, IdentityError::FileTooLarge { file: "DG2", .. }), "{error}");
}

#[test]
fn chip_timeout_is_retried_and_a_pulled_passport_is_typed() {
    let mut config = fast(specimen(face(3_000)));
    config.faults = Faults { chip_timeout_at_apdu: Some(5), ..Faults::default() };
    let (_sim, mut reader) = start(config);
    assert!(read_passport(&mut reader, &trust()).unwrap().authentication.passed());

    let mut config = fast(specimen(face(3_000)));
    config.faults = Faults { pull_out_after_apdus: Some(8), ..Faults::default() };
    let (_sim, mut reader) = start(config);
    let started = Instant::now();
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(
        matches!(
            error,
            IdentityError::Apdu(apdu::ApduError::Reader(CardReaderError::Device {
                kind: kiosk_hal::card_reader::DeviceErrorKind::ContactlessNoCard,
                ..
            }))
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn line_faults_during_a_protected_read_are_recovered() {
    let mut config = fast(specimen(face(5_000)));
    config.faults = Faults {
        // With one silence, two NAKs would use up the three sends of the first command.
        nak_first_commands: 1,
        corrupt_first_replies: 2,
        drop_byte_in_first_replies: 2,
        silent_first_commands: 1,
        garbage_before_reply: b"\x00\xF2\x00\xFF".to_vec(),
        ..Faults::default()
    };
    let (_sim, mut reader) = start(config);
    assert!(read_passport(&mut reader, &trust()).unwrap().authentication.passed());
}

#[test]
fn bank_card_in_the_slot_and_on_the_antenna() {
    use kiosk_hal::card_reader::sim::VirtualBankCard;
    for (config, iface) in [
        (SimulatorConfig::with_inserted_card(VirtualBankCard::test_card()), ChipInterface::Contact),
        (SimulatorConfig::with_tapped_card(VirtualBankCard::test_card()), ChipInterface::Contactless),
    ] {
        let (_sim, mut reader) = start(config);
        let card = emv::read_bank_card(&mut reader, iface).unwrap();
        assert_eq!(card.pan.masked(), "411111******1111");
        assert_eq!(card.expiry, "3012");
        assert_eq!(card.label.as_deref(), Some("VISA DEBIT"));
        assert!(!format!("{card:?}").contains("4111111111111111"));
    }
    let (_sim, mut reader) = start(SimulatorConfig::default());
    assert!(matches!(emv::read_bank_card(&mut reader, ChipInterface::Contact), Err(emv::EmvError::NoCard)));
}

#[test]
fn jpeg2000_photos_both_forms_under_bac_and_pa() {
    let jp2 = [&[0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A][..], &[7u8; 9_000]].concat();
    let j2k = [&[0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x2F][..], &[9u8; 9_000]].concat();
    for (image, format) in [(jp2, ImageFormat::Jpeg2000), (j2k, ImageFormat::Jpeg2000Codestream)] {
        let (_sim, mut reader) = start(fast(specimen(image.clone())));
        let read = read_passport(&mut reader, &trust()).unwrap();
        assert_eq!((read.face_image.format, read.face_image.bytes == image), (format, true));
    }
}

#[test]
fn silent_chip_ends_in_a_timeout_not_a_hang() {
    let mut config = fast(specimen(face(1_000)));
    config.faults = Faults { reply_delay: Duration::from_millis(900), ..Faults::default() };
    let sim = spawn(config).unwrap();
    let mut reader = SerialCardReader::open(sim.port_path(), 921_600).unwrap().with_timeouts(
        kiosk_hal::card_reader::Timeouts {
            ack: Duration::from_millis(300),
            reply: Duration::from_millis(400),
            long_reply: Duration::from_millis(400),
        },
    );
    let started = Instant::now();
    let error = read_passport(&mut reader, &trust()).unwrap_err();
    assert!(matches!(error, IdentityError::Reader(CardReaderError::Timeout { timeout_ms: 400 })), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// The fuzz targets' seed corpora (`fuzz/corpus/TARGET/`) are the simulator's own files: an
/// EF.SOD, DG1 and EF.COM, the MRZ, a master list and a CRL (DER and PEM). Regenerate with
/// `UPDATE_FUZZ_SEEDS=1` after changing the simulator.
#[test]
fn fuzz_seed_corpora_are_the_simulators_files() {
    let passport = specimen(face(600));
    let pki = test_pki();
    let epoch = std::time::SystemTime::UNIX_EPOCH;
    let crl = pki.crl(epoch + Duration::from_secs(1_767_225_600), epoch + Duration::from_secs(1_798_761_600)).unwrap();
    let crl_pem = der::pem::encode_string("X509 CRL", der::pem::LineEnding::LF, &crl).unwrap();
    let neighbour = TestPki::generate("neighbour").unwrap();
    let seeds: Vec<(&str, &str, Vec<u8>)> = vec![
        ("sod", "ef-sod", passport.sod().to_vec()),
        ("tlv", "dg1", passport.dg1().to_vec()),
        ("tlv", "ef-com", passport.ef_com().to_vec()),
        ("mrz", "td3", format!("{LINE1}\r{LINE2}").into_bytes()),
        ("mrz", "dg1", passport.dg1().to_vec()),
        ("master_list", "two-cscas", pki.master_list(&[pki.csca().clone(), neighbour.csca().clone()]).unwrap()),
        ("crl", "der", crl),
        ("crl", "pem", crl_pem.into_bytes()),
    ];
    // Relative to the package folder, where cargo runs tests.
    let root = std::path::Path::new("fuzz/corpus");
    let update = std::env::var_os("UPDATE_FUZZ_SEEDS").is_some();
    for (target, name, bytes) in seeds {
        let path = root.join(target).join(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let committed = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_FUZZ_SEEDS=1", path.display()));
        assert_eq!(committed, bytes, "{} differs from the simulator's; run with UPDATE_FUZZ_SEEDS=1", path.display());
    }
}
