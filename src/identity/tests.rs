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
/// EF.SOD, DG1 and EF.COM, the MRZ, a master list and a CRL (DER and PEM), EF.CardAccess of
/// each PACE mapping (and the German ID card's of `security_info`'s tests), DG14 of Chip
/// Authentication (named and explicit curves, DH, PACE-CAM, with AA info) and DG15 (ECDSA,
/// RSA). Regenerate with `UPDATE_FUZZ_SEEDS=1` after changing the simulator:
/// `UPDATE_FUZZ_SEEDS=1 cargo test --release --locked -p kiosk --lib fuzz_seed_corpora`.
/// Every file is compared byte for byte: the simulator's RSA keys, like its EC keys, are
/// derived from fixed labels.
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
    let atr_info = [("extended-length", true), ("capabilities-short", false)].map(|(name, extended)| {
        let file = specimen(face(1)).with_atr_info(extended).atr_info().map(<[u8]>::to_vec).unwrap_or_default();
        assert_eq!(super::atr_info::parse(&file).map(|found| found.supported), Ok(extended), "{name}");
        ("atr_info", name, file)
    });
    let seeds = seeds.into_iter().chain(atr_info);
    let seeds = seeds.chain(chip_security_seeds());
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

/// EF.CardAccess, DG14 and DG15 seeds (see above); each parses as the reader parses it.
fn chip_security_seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    use kiosk_hal::card_reader::sim::Mapping as Chip;
    let mut seeds = Vec::new();
    for (name, chip_suite, id) in [
        ("ecdh-gm-aes128-p13", suite(Chip::Generic, false, Cipher::Aes128), 13),
        ("dh-gm-3des-p0", suite(Chip::Generic, true, Cipher::Tdes), 0),
        ("ecdh-im-aes128-p12", suite(Chip::Integrated, false, Cipher::Aes128), 12),
        ("ecdh-cam-aes256-p18", suite(Chip::ChipAuthentication, false, Cipher::Aes256), 18),
    ] {
        let passport = specimen(face(10)).with_pace(pace(chip_suite, id));
        seeds.push(("card_access", name, passport.card_access().to_vec()));
        if chip_suite.mapping == Chip::ChipAuthentication {
            seeds.push(("dg14", "pace-cam-p18", passport.dg14().to_vec()));
        }
    }
    seeds.push(("card_access", "german-id-card", crate::identity::cipher::h(super::fixtures::GERMAN_ID_CARD_ACCESS)));

    let mut explicit = ChipAuthConfig::secp192r1_3des();
    explicit.key = CaKey::Ec { parameter_id: 13, explicit: true };
    explicit.cipher = Cipher::Aes128;
    explicit.key_id = Some(1);
    let mut dh = ChipAuthConfig::secp192r1_3des();
    dh.key = CaKey::Dh { parameter_id: 0 };
    let ecdsa = |id| ActiveAuthConfig::new(AaKey::Ecdsa { parameter_id: id }).unwrap();
    let base = || specimen(face(10));
    for (name, passport) in [
        ("ca-secp192r1-3des", base().with_chip_authentication(ChipAuthConfig::secp192r1_3des())),
        ("ca-brainpool-explicit-aa-ecdsa", base().with_chip_authentication(explicit).with_active_authentication(ecdsa(12))),
        ("ca-dh-pace-gm", base().with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13)).with_chip_authentication(dh)),
    ] {
        seeds.push(("dg14", name, passport.dg14().to_vec()));
    }
    let rsa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).unwrap();
    for (name, aa) in [("ecdsa-p256", ecdsa(12)), ("ecdsa-brainpool256", ecdsa(13)), ("rsa-1024", rsa)] {
        seeds.push(("dg15", name, base().with_active_authentication(aa).dg15().to_vec()));
    }
    for (target, name, bytes) in &seeds {
        let parsed = match *target {
            "card_access" => security_info::parse_card_access(bytes).map(|i| i.pace().count() > 0).map_err(|e| e.to_string()),
            "dg14" => security_info::parse_dg14(bytes).map(|i| i.0.len() > 1).map_err(|e| e.to_string()),
            _ => keys::parse_dg15(bytes).map(|_| true).map_err(|e| e.to_string()),
        };
        assert_eq!(parsed, Ok(true), "seed {target}/{name}");
    }
    seeds
}

// ---- PACE, Chip and Active Authentication end to end: the serial driver over a real pty
// against the simulator's chip, whose cryptography is written independently of `identity`.

use kiosk_hal::card_reader::sim::{AaKey, ActiveAuthConfig, CaKey, ChipAuthConfig, Cipher, PaceConfig, PaceSuite};
use super::security_info::Mapping;

const BINDING: &[u8] = b"audit-head:42:0f1e2d";

fn read_with(passport: VirtualPassport, can: Option<&str>) -> (SimulatorHandle, Result<PassportRead, IdentityError>) {
    let (sim, mut reader) = start(fast(passport));
    let read = read_passport_report_with(&mut reader, &trust(), &ReadOptions { can, session_binding: BINDING, keyed_mrz: None });
    (sim, read)
}

fn pace(suite: PaceSuite, parameter_id: u8) -> PaceConfig {
    PaceConfig::new(suite, parameter_id)
}

fn suite(mapping: kiosk_hal::card_reader::sim::Mapping, dh: bool, cipher: Cipher) -> PaceSuite {
    PaceSuite { mapping, dh, cipher }
}

#[test]
fn pace_over_the_pty_every_mapping_both_passwords() {
    use kiosk_hal::card_reader::sim::Mapping as Chip;
    for (chip_suite, id, can, mapping) in [
        (suite(Chip::Generic, false, Cipher::Aes128), 13, None, Mapping::Generic),
        (suite(Chip::Generic, false, Cipher::Aes256), 18, Some("123456"), Mapping::Generic),
        (suite(Chip::Generic, false, Cipher::Tdes), 8, None, Mapping::Generic),
        (suite(Chip::Generic, true, Cipher::Aes128), 0, Some("123456"), Mapping::Generic),
        (suite(Chip::Integrated, false, Cipher::Aes128), 12, None, Mapping::Integrated),
        (suite(Chip::Integrated, false, Cipher::Aes128), 13, Some("123456"), Mapping::Integrated),
        (suite(Chip::ChipAuthentication, false, Cipher::Aes128), 12, None, Mapping::ChipAuthentication),
    ] {
        let mut config = pace(chip_suite, id);
        // A PACE-only chip (as German documents): BAC is refused, so PACE must have run.
        config.bac_too = false;
        let (_sim, read) = read_with(specimen(face(1_500)).with_pace(config), can);
        let read = read.unwrap_or_else(|e| panic!("{chip_suite:?} id {id}: {e}"));
        assert_eq!(read.access, ChipAccess::Pace, "{chip_suite:?}");
        let report = read.pace.as_ref().unwrap();
        assert_eq!((report.mapping, report.parameter_id), (mapping, u64::from(id)), "{chip_suite:?}");
        assert_eq!(report.password, if can.is_some() { "can" } else { "mrz" });
        assert!(read.authentication.passed(), "{:?}", read.authentication);
        // PACE-CAM proves the chip's static key (DG14): Chip Authentication passed without CA.
        let expected_ca = if mapping == Mapping::ChipAuthentication { ChipCheck::Passed } else { ChipCheck::NotSupported };
        assert_eq!(read.chip_authentication, expected_ca, "{chip_suite:?}");
        assert!(read.trusted() && !read.clone_suspected());
        assert!(read.timings.iter().any(|(step, _)| *step == "PACE"), "{:?}", read.timings);
    }
}

#[test]
fn pace_refusals_wrong_can_wrong_token_and_fallback_to_bac() {
    // The CAN keyed in is not the document's: the chip refuses our token.
    let config = pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13);
    let (_sim, read) = read_with(specimen(face(800)).with_pace(config.clone()), Some("654321"));
    assert!(matches!(read, Err(IdentityError::AccessDenied)), "{read:?}");
    // The chip's token does not verify (a chip that does not know the password): refused,
    // never read with a weaker protocol.
    let mut wrong = config.clone();
    wrong.wrong_token = true;
    let (_sim, read) = read_with(specimen(face(800)).with_pace(wrong), None);
    assert!(matches!(read, Err(IdentityError::AccessDenied)), "{read:?}");
    // An offer this reader cannot run (integrated mapping with 3DES) leaves BAC.
    let im_3des = pace(suite(kiosk_hal::card_reader::sim::Mapping::Integrated, false, Cipher::Tdes), 13);
    let (_sim, read) = read_with(specimen(face(800)).with_pace(im_3des), None);
    let read = read.unwrap();
    assert_eq!((read.access, read.pace.is_none()), (ChipAccess::Bac, true));
}

#[test]
fn chip_and_active_authentication_over_the_pty() {
    // Russian passports since 2020: BAC, CA on secp192r1 with 3DES; AA with RSA 9796-2.
    let aa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).unwrap();
    let passport = specimen(face(1_200)).with_chip_authentication(ChipAuthConfig::secp192r1_3des()).with_active_authentication(aa);
    let (_sim, read) = read_with(passport, None);
    let read = read.unwrap();
    assert_eq!(read.access, ChipAccess::Bac);
    assert_eq!((read.chip_authentication.clone(), read.active_authentication.clone()), (ChipCheck::Passed, ChipCheck::Passed));
    let evidence = read.active_authentication_evidence.as_ref().unwrap();
    // The challenge is this session's: the binding and the fresh nonce, nothing else.
    assert_eq!(evidence.challenge, active_auth::challenge(BINDING, &evidence.nonce));
    assert_eq!(evidence.signature.len(), 128);
    assert!(read.trusted());

    // PACE, then CA with a brainpool key spelled out as explicit parameters and AES, then AA
    // with ECDSA (algorithm from DG14).
    let mut ca = ChipAuthConfig::secp192r1_3des();
    ca.key = CaKey::Ec { parameter_id: 13, explicit: true };
    ca.cipher = Cipher::Aes128;
    ca.key_id = Some(1);
    let aa = ActiveAuthConfig::new(AaKey::Ecdsa { parameter_id: 12 }).unwrap();
    let passport = specimen(face(1_200))
        .with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes256), 17))
        .with_chip_authentication(ca)
        .with_active_authentication(aa);
    let (_sim, read) = read_with(passport, Some("123456"));
    let read = read.unwrap();
    assert_eq!(read.access, ChipAccess::Pace);
    assert_eq!((read.chip_authentication.clone(), read.active_authentication.clone()), (ChipCheck::Passed, ChipCheck::Passed));
    let steps: Vec<&str> = read.timings.iter().map(|(s, _)| *s).collect();
    for step in ["EF.CardAccess", "PACE", "DG14", "DG15", "EF.SOD", "Chip Authentication", "Active Authentication"] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    assert!(read.trusted());

    // A DH Chip Authentication key (RFC 5114 MODP-1024) after PACE.
    let mut ca = ChipAuthConfig::secp192r1_3des();
    ca.key = CaKey::Dh { parameter_id: 0 };
    ca.cipher = Cipher::Aes128;
    let passport = specimen(face(600)).with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13)).with_chip_authentication(ca);
    let (_sim, read) = read_with(passport, None);
    assert_eq!(read.unwrap().chip_authentication, ChipCheck::Passed);
}

/// A clone: genuine signed data on a chip without the private keys. Refused as not trusted,
/// the same refusal as a failed passive authentication.
#[test]
fn clones_are_refused_wrong_mac_after_ca_and_aa_with_another_key() {
    let base = || specimen(face(900)).with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13));
    let faults = ChipFaults { wrong_mac_after_ca: 1, ..ChipFaults::default() };
    let clone = base().with_chip_authentication(ChipAuthConfig::secp192r1_3des()).with_chip_faults(faults);
    let (_sim, read) = read_with(clone.clone(), None);
    let read = read.unwrap();
    assert!(matches!(read.chip_authentication, ChipCheck::Failed(_)), "{:?}", read.chip_authentication);
    assert!(read.authentication.passed() && read.clone_suspected() && !read.trusted());
    let (_sim, mut reader) = start(fast(clone));
    match read_passport(&mut reader, &trust()) {
        Err(IdentityError::NotTrusted(PaFailure::CloneSuspected(why))) => assert!(why.contains("Chip Authentication"), "{why}"),
        other => panic!("expected a clone, got {other:?}"),
    }

    for key in [AaKey::Rsa { bits: 1024 }, AaKey::Ecdsa { parameter_id: 13 }] {
        let aa = ActiveAuthConfig::new(key).unwrap().signing_with_another_key().unwrap();
        let (_sim, read) = read_with(base().with_active_authentication(aa), None);
        let read = read.unwrap();
        assert!(matches!(read.active_authentication, ChipCheck::Failed(_)), "{key:?}: {:?}", read.active_authentication);
        assert!(read.clone_suspected() && !read.trusted(), "{key:?}");
    }

    // A clone verdict counts only when the data is authentic: a rogue signer is a PA failure.
    let aa = ActiveAuthConfig::new(AaKey::Ecdsa { parameter_id: 12 }).unwrap().signing_with_another_key().unwrap();
    let rogue = TestPki::generate("rogue").unwrap();
    let (_sim, read) = read_with(base().signed_by(&rogue).with_active_authentication(aa), None);
    let read = read.unwrap();
    assert!(!read.authentication.passed() && !read.clone_suspected() && !read.trusted());
}

#[test]
fn revoked_signer_under_pace_is_not_trusted() {
    let now = std::time::SystemTime::now();
    let day = Duration::from_secs(86_400);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("csca.der"), test_pki().csca_der()).unwrap();
    std::fs::write(dir.path().join("ut.crl"), test_pki().crl(now - day, now + day).unwrap()).unwrap();
    let store = TrustStore::load_dir(dir.path()).unwrap();
    let revoked = test_pki().revoked_signer().unwrap();
    let aa = ActiveAuthConfig::new(AaKey::Ecdsa { parameter_id: 12 }).unwrap();
    let passport = specimen(face(900))
        .signed_by(&revoked)
        .with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13))
        .with_chip_authentication(ChipAuthConfig::secp192r1_3des())
        .with_active_authentication(aa);
    let (_sim, mut reader) = start(fast(passport));
    match read_passport(&mut reader, &store) {
        Err(IdentityError::NotTrusted(PaFailure::DocumentSignerRevoked { .. })) => {}
        other => panic!("expected a revoked signer, got {other:?}"),
    }
}

/// Le = 256 refused (6B00, 6282 without data, 6700) on the plain EF.CardAccess read, and no
/// extended-length APDU ever sent to an ECDH chip that refuses them.
#[test]
fn le_quirks_and_no_extended_length_under_pace_ca_aa() {
    for sw in [[0x6B, 0x00], [0x62, 0x82], [0x67, 0x00]] {
        let faults = ChipFaults { le_256_answer: Some(sw), refuse_extended_length: true, ..ChipFaults::default() };
        let aa = ActiveAuthConfig::new(AaKey::Rsa { bits: 1024 }).unwrap();
        let passport = specimen(face(1_000))
            .with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13))
            .with_chip_authentication(ChipAuthConfig::secp192r1_3des())
            .with_active_authentication(aa)
            .with_chip_faults(faults);
        let (_sim, read) = read_with(passport, None);
        let read = read.unwrap_or_else(|e| panic!("{sw:02X?}: {e}"));
        assert_eq!(read.access, ChipAccess::Pace, "{sw:02X?}");
        assert!(read.trusted(), "{sw:02X?}: {:?} {:?}", read.chip_authentication, read.active_authentication);
    }
}

/// The field lost in the middle of DG2 under PACE + CA: a new chip session (PACE again) and
/// the read continues at the offset reached, not from the start of the file.
#[test]
fn lost_field_is_resumed_at_the_offset() {
    use std::sync::atomic::Ordering;
    let passport = |faults: ChipFaults| {
        specimen(face(20_000))
            .with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13))
            .with_chip_authentication(ChipAuthConfig::secp192r1_3des())
            .with_chip_faults(faults)
    };
    let (clean_sim, read) = read_with(passport(ChipFaults::default()), None);
    assert!(read.unwrap().trusted());
    let clean = clean_sim.stats().bytes_to_host.load(Ordering::Relaxed);
    // About 60 APDUs in: PACE and the small files are done, DG2 is some 10 KB in.
    let (lost_sim, read) = read_with(passport(ChipFaults { lose_field_at_apdu: Some(60), ..ChipFaults::default() }), None);
    let read = read.unwrap();
    assert!(read.trusted() && read.access == ChipAccess::Pace);
    assert_eq!(read.face_image.bytes, face(20_000));
    let resumed = lost_sim.stats().bytes_to_host.load(Ordering::Relaxed);
    // Starting DG2 over would send its first ~10 KB twice; a resumed read costs a new PACE.
    assert!(resumed > clean && resumed - clean < 3_000, "clean {clean} bytes, with the field lost {resumed}");
}

/// A reader without an MRZ window: its scan is refused as unknown, and the chip is read (BAC
/// or PACE) with the MRZ information the person keyed in, which must also match DG1.
#[test]
fn a_reader_without_a_window_reads_the_chip_with_the_keyed_in_mrz() {
    let keyed = |passport: VirtualPassport, keyed_mrz: Option<&str>| {
        let (_sim, mut reader) = start(SimulatorConfig { mrz_window: false, ..fast(passport) });
        read_passport_report_with(&mut reader, &trust(), &ReadOptions { can: None, session_binding: BINDING, keyed_mrz })
    };
    let specimen_info = "L898902C3674081221204159";
    let read = keyed(specimen(face(700)), None);
    assert!(matches!(read, Err(IdentityError::NoMrzWindow)), "{read:?}");

    let read = keyed(specimen(face(700)), Some(specimen_info)).unwrap();
    assert_eq!((read.access, read.mrz.document_number.as_str()), (ChipAccess::Bac, "L898902C3"));
    let with_pace = specimen(face(700)).with_pace(pace(PaceSuite::ecdh_gm(Cipher::Aes128), 13));
    let read = keyed(with_pace, Some(specimen_info)).unwrap();
    assert_eq!(read.access, ChipAccess::Pace);

    // Check digits right, data not this chip's (another birth date): the chip refuses the key.
    let other_birth = "L898902C3674081331204159";
    assert_eq!(crate::identity::mrz::verify_information(other_birth), Ok(()));
    let read = keyed(specimen(face(700)), Some(other_birth));
    assert!(matches!(read, Err(IdentityError::AccessDenied)), "{read:?}");
    // A wrong check digit never reaches the chip.
    let read = keyed(specimen(face(700)), Some("L898902C3774081221204159"));
    assert!(matches!(read, Err(IdentityError::KeyedMrz(_))), "{read:?}");
}

/// EF.ATR/INFO decides extended length. PACE on the 2048-bit MODP group (id 2) needs it (a
/// 256-byte public key in GENERAL AUTHENTICATE): run when the chip's EF.ATR/INFO announces
/// extended length; when the file is missing (6A82) or says no, no extended-length APDU is
/// ever sent, PACE with that group is not attempted and the chip is read with BAC.
#[test]
fn extended_length_only_when_ef_atr_info_announces_it() {
    use std::sync::atomic::Ordering;
    let dh_2048 = || pace(suite(kiosk_hal::card_reader::sim::Mapping::Generic, true, Cipher::Aes128), 2);
    let (sim, read) = read_with(specimen(face(1_200)).with_pace(dh_2048()).with_atr_info(true), None);
    let read = read.unwrap();
    assert_eq!(read.access, ChipAccess::Pace);
    assert_eq!(read.pace.as_ref().map(|p| p.parameter_id), Some(2));
    assert!(read.trusted());
    assert!(sim.stats().extended_apdus.load(Ordering::Relaxed) >= 2, "the DH keys go extended");

    for (what, passport) in [
        ("no EF.ATR/INFO", specimen(face(1_200)).with_pace(dh_2048())),
        ("EF.ATR/INFO without extended length", specimen(face(1_200)).with_pace(dh_2048()).with_atr_info(false)),
    ] {
        let (sim, read) = read_with(passport, None);
        let read = read.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!((read.access, read.pace.is_none()), (ChipAccess::Bac, true), "{what}");
        assert!(read.trusted(), "{what}");
        assert_eq!(sim.stats().extended_apdus.load(Ordering::Relaxed), 0, "{what}");
    }
    // A PACE-only chip without the file cannot be read with that group: a typed refusal.
    let mut only = dh_2048();
    only.bac_too = false;
    let (_sim, read) = read_with(specimen(face(1_200)).with_pace(only), None);
    assert!(read.is_err(), "{read:?}");
}
