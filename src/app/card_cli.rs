//! `kiosk card read`: waits for a passport on the reader's window or a bank card in the slot or
//! on the antenna, reads it and prints what it found. Saves nothing unless asked
//! (`--save-photo`). For technicians: the MRZ fields go to stdout only, never to the logs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::ValueEnum;
#[cfg(feature = "demo")]
use kiosk_hal::card_reader::sim::{self, SimulatorConfig, VirtualBankCard, VirtualPassport};
use kiosk_hal::card_reader::{CardPosition, CardReader, CardReaderError, ChipInterface, DeviceErrorKind};
use serde_json::{json, Value};

use super::AppError;
use crate::identity::{self, emv, ChipCheck, IdentityError, PassiveAuthentication, PassportRead, ReadOptions, TrustStore};
use crate::wiring::{self, Simulation};

/// How often the reader is asked whether something was placed.
const POLL: Duration = Duration::from_millis(300);
/// The ICAO Doc 9303 specimen, used for the simulated passport.
#[cfg(feature = "demo")]
const SPECIMEN_MRZ: [&str; 2] =
    ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"];
/// Size of the simulated passport's face image (a typical DG2).
#[cfg(feature = "demo")]
const SIMULATED_PHOTO_LEN: usize = 20_000;

/// What the simulator holds for `--simulate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimulatedCard {
    /// A BAC-protected passport signed by the test CSCA (the ICAO specimen MRZ).
    Passport,
    /// A passport signed by a Document Signer the trust store does not know.
    UntrustedPassport,
    /// A PACE-only passport (generic mapping, brainpoolP256r1, AES; CAN 123456) with Chip
    /// Authentication (secp192r1, 3DES) and Active Authentication (ECDSA P-256).
    PacePassport,
    /// The same passport's signed data on a chip that signs Active Authentication with another
    /// key than DG15's: a clone.
    ClonedPassport,
    /// A bank card inserted in the slot (contact chip).
    BankCard,
    /// A bank card held on the antenna (contactless).
    BankCardContactless,
}

/// Options of `kiosk card read`.
#[derive(Debug, Clone)]
pub struct CardReadOptions {
    pub port: Option<String>,
    pub simulate: Option<SimulatedCard>,
    pub json: bool,
    pub wait: Duration,
    pub save_photo: Option<PathBuf>,
    /// The card access number for PACE (instead of the scanned MRZ).
    pub can: Option<String>,
    /// The MRZ information keyed in, for a reader without an MRZ window.
    pub mrz: Option<String>,
}

/// Bound into the Active Authentication challenge of a technician's read.
const CARD_READ_BINDING: &[u8] = b"kiosk card read";

/// What was found on the reader.
enum Found {
    // Boxed: the passport read is large and moves through a few returns.
    Passport(Box<PassportRead>),
    BankCard(emv::BankCardRead),
}

/// Runs the command; true when a bank card was read or a passport is trusted (passive
/// authentication passed, no clone suspected).
pub fn run(config_file: Option<&Path>, options: &CardReadOptions) -> Result<bool, AppError> {
    let config = kiosk_config::load(config_file)?;
    let baud = config.card_reader.baud;
    let simulate = match (&options.port, options.simulate, config.card_reader.driver) {
        (Some(_), Some(_), _) => {
            return Err(AppError::Usage("--port and --simulate exclude each other: choose one".into()))
        }
        (Some(_), None, _) => None,
        (None, Some(card), _) => Some(card),
        (None, None, kiosk_config::CardReaderDriver::Serial) => None,
        (None, None, _) => {
            eprintln!("card_reader.driver is \"simulator\": reading a simulated passport (use --simulate or --port to choose)");
            Some(SimulatedCard::Passport)
        }
    };
    // A simulated reader's device lives as long as the reader.
    let mut reader = match (simulate, &options.port) {
        (Some(card), _) => simulated_reader(&config, card)?,
        (None, Some(port)) => wiring::open_reader_at(&config, port)?,
        (None, None) => wiring::open_card_reader(&config, &Simulation::default())?,
    };
    let port = reader.port().to_owned();
    let trust = TrustStore::load_dir(&config.card_reader.csca_dir).map_err(IdentityError::from)?;
    let firmware = reader.firmware_version()?;
    reader.initialise()?;
    if !options.json {
        println!("reader     {firmware} on {port} ({baud} baud)");
        println!("waiting    up to {} s for a passport on the window or a bank card", options.wait.as_secs());
    }
    let started = Instant::now();
    if let Some(can) = &options.can {
        if can.is_empty() || can.len() > 10 || !can.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AppError::Usage(
                "--can takes the card access number printed on the document: its digits only (usually 6)".into(),
            ));
        }
    }
    if let Some(mrz) = &options.mrz {
        identity::mrz::verify_information(mrz).map_err(|e| {
            AppError::Usage(format!("--mrz {e}: give the document number padded with < to 9 characters, the birth date and the expiry date (YYMMDD), each followed by its check digit, 24 characters as on the photo page's bottom line"))
        })?;
    }
    let read_options = ReadOptions {
        can: options.can.as_deref(),
        session_binding: CARD_READ_BINDING,
        keyed_mrz: options.mrz.as_deref(),
    };
    let found = wait_and_read(&mut reader, &trust, &read_options, options.wait)?;
    let seconds = started.elapsed().as_secs_f64();
    let ok = match &found {
        Found::Passport(read) => read.trusted(),
        Found::BankCard(_) => true,
    };
    if let (Found::Passport(read), Some(path)) = (&found, &options.save_photo) {
        std::fs::write(path, &read.face_image.bytes).map_err(|e| AppError::file(path, e))?;
    }
    if options.json {
        println!("{}", report(&found, seconds));
    } else {
        print_text(&found, seconds, options.save_photo.as_deref());
    }
    Ok(ok)
}

/// The simulator holding `card` and the reader on it.
#[cfg(feature = "demo")]
fn simulated_reader(config: &kiosk_config::Config, card: SimulatedCard) -> Result<wiring::OpenedReader, AppError> {
    Ok(wiring::open_simulated_reader(config, simulated(card)?)?)
}

/// A production build has no simulator to hold a card.
#[cfg(not(feature = "demo"))]
fn simulated_reader(_: &kiosk_config::Config, _: SimulatedCard) -> Result<wiring::OpenedReader, AppError> {
    Err(wiring::OpenError::SimulatorNotBuilt { key: "card_reader.driver", driver: "simulator" }.into())
}

/// What the simulated reader holds for `--simulate`.
#[cfg(feature = "demo")]
fn simulated(card: SimulatedCard) -> Result<SimulatorConfig, AppError> {
    let passport = |pki: Option<&sim::TestPki>| {
        let mut photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00];
        photo.extend((0..SIMULATED_PHOTO_LEN).map(|i| (i * 31 % 251) as u8));
        let p = VirtualPassport::new(SPECIMEN_MRZ.iter().map(|l| (*l).to_owned()).collect(), photo);
        match pki {
            Some(pki) => p.signed_by(pki),
            None => p,
        }
    };
    Ok(match card {
        SimulatedCard::Passport => SimulatorConfig::with_document(passport(None)),
        SimulatedCard::UntrustedPassport => {
            let rogue = sim::TestPki::generate("untrusted").map_err(|e| AppError::internal("test PKI", e))?;
            SimulatorConfig::with_document(passport(Some(&rogue)))
        }
        SimulatedCard::PacePassport | SimulatedCard::ClonedPassport => {
            let step = |e: sim::chip_pace::StepError| AppError::internal("simulated chip key", format!("{e:?}"));
            let mut aa = sim::ActiveAuthConfig::new(sim::AaKey::Ecdsa { parameter_id: 12 }).map_err(step)?;
            if card == SimulatedCard::ClonedPassport {
                aa = aa.signing_with_another_key().map_err(step)?;
            }
            let mut pace = sim::PaceConfig::new(sim::PaceSuite::ecdh_gm(sim::Cipher::Aes128), 13);
            pace.bac_too = false;
            SimulatorConfig::with_document(
                passport(None)
                    .with_pace(pace)
                    .with_chip_authentication(sim::ChipAuthConfig::secp192r1_3des())
                    .with_active_authentication(aa),
            )
        }
        SimulatedCard::BankCard => SimulatorConfig::with_inserted_card(VirtualBankCard::test_card()),
        SimulatedCard::BankCardContactless => SimulatorConfig::with_tapped_card(VirtualBankCard::test_card()),
    })
}

/// Polls until something is placed, then reads it. A reader unplugged meanwhile is waited for.
fn wait_and_read(
    reader: &mut dyn CardReader,
    trust: &TrustStore,
    options: &ReadOptions<'_>,
    wait: Duration,
) -> Result<Found, AppError> {
    let deadline = Instant::now() + wait;
    loop {
        match look(reader, trust, options) {
            Ok(Some(found)) => return Ok(found),
            Ok(None) => {}
            Err(AppError::CardReader(CardReaderError::Reconnected | CardReaderError::Disconnected { .. })) => {
                tracing::warn!("card reader unplugged while waiting; waiting for it to come back");
            }
            Err(error) => return Err(error),
        }
        if Instant::now() >= deadline {
            return Err(AppError::Usage(format!(
                "nothing was placed on the reader within {} s: place a passport photo page down on the window, or insert or tap a bank card, and run the command again",
                wait.as_secs()
            )));
        }
        std::thread::sleep(POLL);
    }
}

/// One look at the reader: a card in the slot, a document on the window, a card on the antenna.
fn look(reader: &mut dyn CardReader, trust: &TrustStore, options: &ReadOptions<'_>) -> Result<Option<Found>, AppError> {
    if reader.status()?.card_position == CardPosition::Inside {
        return Ok(Some(Found::BankCard(emv::read_bank_card(reader, ChipInterface::Contact)?)));
    }
    match identity::read_passport_report_with(reader, trust, options) {
        Ok(read) => return Ok(Some(Found::Passport(Box::new(read)))),
        Err(IdentityError::NoDocument) => {}
        // An ordinary card reader has no MRZ window (command 0x70 unknown): it still reads
        // bank cards on its antenna.
        Err(IdentityError::NoMrzWindow) => {
            tracing::debug!("the reader has no MRZ window: looking for a bank card only");
        }
        Err(error) => return Err(error.into()),
    }
    match reader.activate_contactless() {
        Ok(_) => {
            reader.deactivate_contactless()?;
            Ok(Some(Found::BankCard(emv::read_bank_card(reader, ChipInterface::Contactless)?)))
        }
        Err(CardReaderError::Device { kind: DeviceErrorKind::ContactlessNoCard, .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn verdict_json(pa: &PassiveAuthentication) -> Value {
    match pa {
        PassiveAuthentication::Passed { document_signer, csca, hash } => json!({
            "verdict": "ok", "reason": Value::Null, "document_signer": document_signer, "csca": csca, "hash": hash.name(),
        }),
        PassiveAuthentication::Failed(failure) => json!({ "verdict": "failed", "reason": failure.to_string() }),
    }
}

fn report(found: &Found, seconds: f64) -> Value {
    match found {
        Found::Passport(read) => {
            let m = &read.mrz;
            json!({
                "kind": "passport",
                "mrz": {
                    "document_type": m.document_type, "issuing_state": m.issuing_state,
                    "surname": m.surname, "given_names": m.given_names,
                    "document_number": m.document_number, "nationality": m.nationality,
                    "birth_date": m.birth_date, "sex": format!("{:?}", m.sex), "expiry_date": m.expiry_date,
                },
                "chip_access": format!("{:?}", read.access),
                "access": read.access.name(),
                "pace": read.pace.as_ref().map(|p| json!({
                    "mapping": p.mapping.name(),
                    "parameter_id": p.parameter_id,
                    "parameters": identity::domain::parameter_name(p.parameter_id),
                    "password": p.password,
                    "protocol": p.protocol,
                })),
                "passive_authentication": verdict_json(&read.authentication),
                "chip_authentication": read.chip_authentication.name(),
                "chip_authentication_reason": check_reason(&read.chip_authentication),
                "active_authentication": read.active_authentication.name(),
                "active_authentication_reason": check_reason(&read.active_authentication),
                "active_authentication_evidence": read.active_authentication_evidence.as_ref().map(|e| json!({
                    "challenge": hex::encode_upper(e.challenge),
                    "nonce": hex::encode_upper(e.nonce),
                    "signature": hex::encode_upper(&e.signature),
                })),
                "clone_suspected": read.clone_suspected(),
                "trusted": read.trusted(),
                "timings_ms": read.timings.iter().map(|(step, d)| json!({ "step": step, "ms": d.as_secs_f64() * 1000.0 })).collect::<Vec<_>>(),
                "face_image": { "format": format!("{:?}", read.face_image.format), "bytes": read.face_image.bytes.len() },
                "chip_bytes_read": read.bytes_read,
                "seconds": seconds,
            })
        }
        Found::BankCard(card) => json!({
            "kind": "bank_card",
            "interface": format!("{:?}", card.interface),
            "pan": card.pan.masked(),
            "expiry": expiry_text(&card.expiry),
            "aid": hex::encode_upper(&card.aid),
            "label": card.label,
            "seconds": seconds,
        }),
    }
}

fn check_reason(check: &ChipCheck) -> Value {
    match check {
        ChipCheck::Failed(reason) => Value::String(reason.clone()),
        _ => Value::Null,
    }
}

/// `YYMM` → `MM/YY`.
fn expiry_text(yymm: &str) -> String {
    format!("{}/{}", yymm.get(2..4).unwrap_or("??"), yymm.get(..2).unwrap_or("??"))
}

fn print_text(found: &Found, seconds: f64, saved: Option<&Path>) {
    match found {
        Found::Passport(read) => {
            let m = &read.mrz;
            println!("passport   {} {}, {} {}", m.document_type, m.issuing_state, m.surname, m.given_names);
            println!(
                "           number {}, nationality {}, born {}, sex {:?}, expires {}",
                m.document_number, m.nationality, m.birth_date, m.sex, m.expiry_date
            );
            println!("chip       {} access, {} bytes read in {seconds:.2} s", read.access.name(), read.bytes_read);
            if let Some(p) = &read.pace {
                println!(
                    "pace       {} mapping, {} (id {}), password {}",
                    p.mapping.name(),
                    identity::domain::parameter_name(p.parameter_id),
                    p.parameter_id,
                    p.password
                );
            }
            match &read.authentication {
                PassiveAuthentication::Passed { document_signer, csca, hash } => {
                    println!("passive    authentication PASSED ({}; signer \"{document_signer}\", CSCA \"{csca}\")", hash.name())
                }
                PassiveAuthentication::Failed(failure) => {
                    println!("passive    authentication FAILED: {failure}: the document is NOT trusted")
                }
            }
            for (what, check) in [("chip", &read.chip_authentication), ("active", &read.active_authentication)] {
                match check {
                    ChipCheck::Passed => println!("{what:<10} authentication PASSED"),
                    ChipCheck::NotSupported => println!("{what:<10} authentication not supported by the chip"),
                    ChipCheck::Failed(reason) => println!("{what:<10} authentication FAILED: {reason}"),
                }
            }
            if read.clone_suspected() {
                println!("clone      SUSPECTED: the data is genuine but this chip did not prove it is the original: NOT trusted");
            }
            println!("photo      {:?}, {} bytes (DG2)", read.face_image.format, read.face_image.bytes.len());
            if let Some(path) = saved {
                println!("saved      photo to {}", path.display());
            }
        }
        Found::BankCard(card) => {
            println!(
                "bank card  {} {} (AID {}), {:?} chip",
                card.label.as_deref().unwrap_or("(no label)"),
                card.pan.masked(),
                hex::encode_upper(&card.aid),
                card.interface
            );
            println!("           expires {}, read in {seconds:.2} s", expiry_text(&card.expiry));
        }
    }
}

#[cfg(all(test, feature = "demo"))]
mod tests {
    use kiosk_hal::card_reader::SerialCardReader;

    use super::*;

    /// The serial driver on a reader without an MRZ window: the simulator's firmware answers
    /// 0x70 with error 00 (unknown command), as ordinary card readers do.
    fn look_once(config: SimulatorConfig, options: &ReadOptions<'_>) -> Result<Option<Found>, AppError> {
        let sim = sim::spawn(SimulatorConfig { mrz_window: false, ..config }).unwrap();
        let mut reader = SerialCardReader::open(sim.port_path(), 115_200).unwrap();
        let config = kiosk_config::load_str(None).unwrap();
        look(&mut reader, &TrustStore::load_dir(&config.card_reader.csca_dir).unwrap(), options)
    }

    #[test]
    fn a_reader_without_an_mrz_window_still_reads_bank_cards() {
        for config in [
            SimulatorConfig::with_tapped_card(VirtualBankCard::test_card()),
            SimulatorConfig::with_inserted_card(VirtualBankCard::test_card()),
        ] {
            match look_once(config, &ReadOptions::default()) {
                Ok(Some(Found::BankCard(card))) => assert_eq!(card.pan.masked(), "411111******1111"),
                Ok(Some(Found::Passport(_))) => panic!("no passport was there"),
                Ok(None) => panic!("the card was not found"),
                Err(error) => panic!("{error}"),
            }
        }
        // A passport on such a reader: read with the MRZ keyed in (`--mrz`), trusted.
        let mrz = crate::app::demo::compose_td3("PETROV", "IVAN", "710001234", "RUS", "850314", 'M', "310101");
        let passport = VirtualPassport::new(mrz.to_vec(), vec![0xFF, 0xD8, 0xFF, 0xD9]);
        let line2 = &mrz[1];
        let info: String = [0..10, 13..20, 21..28].into_iter().map(|r| &line2[r]).collect();
        let options = ReadOptions { keyed_mrz: Some(&info), ..ReadOptions::default() };
        match look_once(SimulatorConfig::with_document(passport), &options) {
            Ok(Some(Found::Passport(read))) => assert_eq!(read.mrz.document_number, "710001234"),
            other => panic!("{:?}", other.map(|f| f.is_some())),
        }
        // Nothing there: keep waiting, not an error.
        assert!(matches!(look_once(SimulatorConfig::default(), &ReadOptions::default()), Ok(None)));
    }
}
