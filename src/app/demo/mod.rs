//! `kiosk demo`: whole onboardings on simulated hardware, end to end through the real layers —
//! the serial protocol on a pseudo-terminal, the face models through onnxruntime, the
//! screens through embedded-graphics, the store in SQLite.
//!
//! Scripted people: the holder of a passport, who is issued an account (with spoken prompts, a
//! receipt and the social-payments offer), then people failing each check in turn, one who
//! walks away mid-way, and one who declines the consent.

mod acting;
mod person;

pub use acting::{ActingPerson, Shown};
pub use person::{synthetic_turn, turn_clip, ScreenWatch, SimulatedPerson, WatchedDisplay};

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use kiosk_config::Config;
use kiosk_hal::{
    card_reader::sim::{self, SimulatorConfig, VirtualPassport},
    camera::ReplayCamera,
    display::MemoryDisplay,
    Camera, CardReader,
};
use opencv::{
    core::{Mat, Rect, Scalar, Size, Vector, CV_8UC3},
    imgcodecs, imgproc,
    prelude::*,
};

use super::{
    session::{Services, Session, SessionReport, StepRecord},
    AppError,
};
use crate::{
    account::KioskIdentity,
    flow::{ButtonId, Outcome, Refusal},
    identity::mrz::check_digit,
    store::{KeyStore, Store},
    vision::{read_image, FacePipeline},
    wiring::{self, Devices, Simulation},
};

/// What the kiosk camera sees of a demo person.
pub enum Appearance {
    /// A real person: still frames from these photos, and a head that turns when asked.
    Person(Vec<PathBuf>),
    /// Someone holding a printed photo up to the camera (a presentation attack).
    PrintedPhoto(PathBuf),
    /// A replayed video of a person, which turns the head the other way from the one asked.
    WrongWayReplay(Vec<PathBuf>),
    /// Nobody: the person left after placing the passport.
    Nobody,
}

/// What a demo person chooses on the screens.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    /// Touched on the attract screen, in order (language, large text, contrast, voice).
    pub options: Vec<ButtonId>,
    pub declines_consent: bool,
    pub prints_receipt: bool,
    /// Social-payment categories ticked (indexes in the rules), and whether they then ask for
    /// the payments to be credited (`false`: "no, thanks").
    pub social: Option<(Vec<u8>, bool)>,
    /// After the attract screen, everything is done on the keypad under the screen (as someone
    /// who cannot see the buttons would, with the spoken prompts).
    pub keypad: bool,
}

/// A scripted person: their passport, what the camera sees of them, what they press.
pub struct DemoPerson {
    pub label: &'static str,
    pub passport_mrz: [String; 2],
    /// The photo personalised into the passport chip's DG2.
    pub passport_photo: PathBuf,
    /// The chip's data is signed by a Document Signer no trusted CSCA issued (a forgery).
    pub forged_signature: bool,
    pub appearance: Appearance,
    pub choices: Choices,
    pub expected: Outcome,
}

/// The demo's people, with faces from registry packages (see models/MANIFEST.toml): one who is
/// issued an account, then one failing each check in turn.
pub fn demo_people(models_dir: &Path) -> Vec<DemoPerson> {
    let face = |name: &str| models_dir.join("faces").join(name);
    let person = |label, mrz, photo: &str, appearance, expected| DemoPerson {
        label,
        passport_mrz: mrz,
        passport_photo: face(photo),
        forged_signature: false,
        appearance,
        choices: Choices::default(),
        expected,
    };
    let holder = || Appearance::Person(vec![face("obama3.jpg"), face("obama2.jpg")]);
    vec![
        DemoPerson {
            choices: Choices {
                options: vec![ButtonId::Speech],
                prints_receipt: true,
                social: Some((vec![0], true)),
                ..Choices::default()
            },
            ..person(
                "the passport holder (asks for spoken prompts, a receipt and child benefits)",
                compose_td3("PETROV", "IVAN", "7100012345", "RUS", "850314", 'M', "310101"),
                "obama.jpg",
                holder(),
                Outcome::AccountIssued,
            )
        },
        person(
            "an impostor with someone else's passport",
            compose_td3("SIDOROV", "PAVEL", "7100054321", "RUS", "790822", 'M', "300615"),
            "biden.jpg",
            Appearance::Person(vec![face("obama3.jpg")]),
            Outcome::Refused(Refusal::FaceMismatch),
        ),
        DemoPerson {
            choices: Choices {
                options: vec![ButtonId::LanguageEn, ButtonId::LargeText, ButtonId::HighContrast, ButtonId::Speech],
                keypad: true,
                ..Choices::default()
            },
            ..person(
                "the holder again, in English, large text, high contrast, spoken prompts and the keypad only (already enrolled here)",
                compose_td3("PETROV", "IVAN", "7200098765", "RUS", "850314", 'M', "360101"),
                "obama3.jpg",
                holder(),
                Outcome::Refused(Refusal::AlreadyEnrolled),
            )
        },
        person(
            "someone holding a printed photo up to the camera",
            compose_td3("SIDOROV", "PAVEL", "7100054321", "RUS", "790822", 'M', "300615"),
            "biden.jpg",
            // The print-attack sample of the Silent-Face project, kept beside the tests.
            Appearance::PrintedPhoto(models_dir.join("../tests/data/pad-samples/image_F1.jpg")),
            Outcome::Refused(Refusal::LivenessFailed),
        ),
        // Another holder's passport, not enrolled here: the holder's own would be refused by the
        // exact check before the camera, and the replay would never be shown.
        person(
            "a replayed video of a passport's holder, turning the head the other way from the one asked",
            compose_td3("VOLKOV", "ANDREI", "7600044444", "RUS", "830707", 'M', "350505"),
            "obama.jpg",
            Appearance::WrongWayReplay(vec![face("obama3.jpg")]),
            Outcome::Refused(Refusal::LivenessFailed),
        ),
        DemoPerson {
            forged_signature: true,
            ..person(
                "a passport whose chip data is signed by an unknown signer (forged)",
                compose_td3("KOZLOV", "OLEG", "7300011111", "RUS", "900101", 'M', "320101"),
                "obama.jpg",
                holder(),
                Outcome::Refused(Refusal::DocumentNotTrusted),
            )
        },
        person(
            "someone who places the passport and walks away",
            compose_td3("IVANOVA", "MARIA", "7500033333", "RUS", "600505", 'F', "340404"),
            "biden.jpg",
            Appearance::Nobody,
            Outcome::WalkedAway,
        ),
        DemoPerson {
            choices: Choices { declines_consent: true, ..Choices::default() },
            ..person(
                "someone who reads the consent and declines",
                compose_td3("PETROVA", "ANNA", "7400022222", "RUS", "920202", 'F', "330303"),
                "biden.jpg",
                holder(),
                Outcome::Refused(Refusal::ConsentDeclined),
            )
        },
    ]
}

/// A valid TD3 MRZ (check digits computed) for a Russian passport.
pub fn compose_td3(
    surname: &str,
    given: &str,
    number: &str,
    nationality: &str,
    birth: &str,
    sex: char,
    expiry: &str,
) -> [String; 2] {
    let digit = |field: &str| check_digit(field).map_or('<', |d| char::from(b'0' + d));
    let line1 = format!("{:<<44}", format!("P<{nationality}{surname}<<{given}"));
    let number = format!("{number:<<9}");
    let number = &number[..9];
    let optional = "<".repeat(14);
    let composite_source = format!(
        "{number}{}{birth}{}{expiry}{}{optional}{}",
        digit(number),
        digit(birth),
        digit(expiry),
        digit(&optional)
    );
    let line2 = format!(
        "{number}{}{nationality}{birth}{}{sex}{expiry}{}{optional}{}{}",
        digit(number),
        digit(birth),
        digit(expiry),
        digit(&optional),
        digit(&composite_source)
    );
    [line1, line2]
}

/// Blocking entry point for the CLI: builds the tokio runtime that drives devices and flow.
pub fn run_blocking(config_file: Option<&Path>, out: &Path) -> Result<Vec<SessionReport>, AppError> {
    let config = kiosk_config::load(config_file)?;
    // The runtime of `kiosk run`: the demo's sessions run as a kiosk's do.
    super::run::runtime()?.block_on(run(config, out, &mut |line| println!("{line}")))
}

/// Runs the demo, writing what happens through `print`; checks each person's expected outcome.
pub async fn run(
    mut config: Config,
    out: &Path,
    print: &mut dyn FnMut(&str),
) -> Result<Vec<SessionReport>, AppError> {
    let started = Instant::now();
    prepare_out_dir(out)?;
    // Everything the demo keeps stays in its output folder.
    config.kiosk.data_dir = out.to_path_buf();
    print(&format!(
        "kiosk demo: kiosk {} on simulated hardware; output in {}",
        config.kiosk.id,
        out.display()
    ));

    let t = Instant::now();
    let keys = KeyStore::open_or_create(&out.join("keys/kek.key"))?;
    let identity = Arc::new(KioskIdentity::generate_to(&out.join("keys/kiosk-ed25519.key"))?);
    let store = Store::open(&out.join("kiosk.db"), &keys)?;
    print(&format!(
        "  set-up     keys generated (0600), database opened with migrations  [{} ms]",
        t.elapsed().as_millis()
    ));

    let t = Instant::now();
    let pipeline = wiring::face_pipeline(&config)?;
    print(&format!(
        "  set-up     models verified against MANIFEST.toml (sha256) and loaded: YuNet, SFace, MiniFASNet ×2  [{} ms]",
        t.elapsed().as_millis()
    ));

    let mut services = Services::new(config, store, Arc::clone(&identity), pipeline)?;

    let mut reports = Vec::new();
    let people = demo_people(&services.config.models.dir);
    for (index, person) in people.iter().enumerate() {
        print("");
        print(&format!("Person {}: {}", index + 1, person.label));
        let report =
            run_person(&mut services, person, &out.join(format!("screens/person-{}", index + 1)), print)
                .await?;
        let outcome = report.outcome;
        print(&format!(
            "  outcome    {}; screens: {}",
            match outcome {
                Some(Outcome::AccountIssued) => "ACCOUNT ISSUED".to_string(),
                Some(Outcome::Refused(reason)) =>
                    format!("REFUSED ({})", super::session::refusal_code(reason)),
                Some(Outcome::WalkedAway) => "WALKED AWAY (session wiped)".to_string(),
                None => "none".into(),
            },
            report.screens.join(" → ")
        ));
        if outcome != Some(person.expected) {
            return Err(AppError::DemoExpectation(format!(
                "person {} ended with {outcome:?}, expected {:?}",
                index + 1,
                person.expected
            )));
        }
        reports.push(report);
    }

    let accounts = services.store.account_count()?;
    let audit = services.store.verify_audit()?;
    print("");
    print(&format!(
        "Done in {:.1} s: {accounts} account(s) in {}, audit chain of {} rows intact.",
        started.elapsed().as_secs_f64(),
        out.join("kiosk.db").display(),
        audit.rows
    ));
    print(&format!("  screens (PNG): {}", out.join("screens").display()));
    if let Some(token) = reports.iter().find_map(|r| r.activation_token.as_deref()) {
        print(&format!(
            "  verify the activation token offline: kiosk token verify --public-key {} '{token}'",
            identity.public_key_hex()
        ));
    }
    if accounts != 1 {
        return Err(AppError::DemoExpectation(format!(
            "{accounts} accounts in the store, expected exactly 1"
        )));
    }
    Ok(reports)
}

async fn run_person(
    services: &mut Services,
    person: &DemoPerson,
    screens_dir: &Path,
    print: &mut dyn FnMut(&str),
) -> Result<SessionReport, AppError> {
    let size = (services.config.display.width, services.config.display.height);
    let passport_jpeg = {
        let mut pipeline =
            services.pipeline.lock().map_err(|_| AppError::internal("face pipeline", "poisoned lock"))?;
        personalise_photo(&mut pipeline, &person.passport_photo)?
    };
    // A current passport: PACE, Chip Authentication (secp192r1, 3DES, as Russian passports)
    // and Active Authentication (ECDSA P-256), whose answer the session keeps in its record.
    let aa = sim::ActiveAuthConfig::new(sim::AaKey::Ecdsa { parameter_id: 12 })
        .map_err(|e| AppError::internal("simulated chip's Active Authentication key", format!("{e:?}")))?;
    let mut chip = VirtualPassport::new(person.passport_mrz.to_vec(), passport_jpeg)
        .with_pace(sim::PaceConfig::new(sim::PaceSuite::ecdh_gm(sim::Cipher::Aes128), 13))
        .with_chip_authentication(sim::ChipAuthConfig::secp192r1_3des())
        .with_active_authentication(aa);
    if person.forged_signature {
        let forger = sim::TestPki::generate("forger").map_err(|e| AppError::internal("forger's test PKI", e))?;
        chip = chip.signed_by(&forger);
    }
    let mut reader = wiring::open_simulated_reader(&services.config, SimulatorConfig::with_document(chip))?;
    let firmware = reader.firmware_version()?;
    reader.initialise()?;
    print(&format!(
        "  devices    card reader '{firmware}' on {} (pseudo-terminal, {} baud)",
        reader.port(),
        services.config.card_reader.baud
    ));

    let watch = ScreenWatch::default();
    let camera: Box<dyn Camera> = {
        let mut pipeline =
            services.pipeline.lock().map_err(|_| AppError::internal("face pipeline", "poisoned lock"))?;
        let (w, h) = (services.config.camera.width, services.config.camera.height);
        match &person.appearance {
            Appearance::Person(photos) => {
                let frames =
                    photos.iter().map(|p| camera_frame(&mut pipeline, p, w, h)).collect::<Result<Vec<_>, _>>()?;
                Box::new(SimulatedPerson::new(frames, &mut pipeline, watch.clone())?)
            }
            Appearance::WrongWayReplay(photos) => {
                let frames =
                    photos.iter().map(|p| camera_frame(&mut pipeline, p, w, h)).collect::<Result<Vec<_>, _>>()?;
                Box::new(SimulatedPerson::new(frames, &mut pipeline, watch.clone())?.replaying_the_wrong_turn())
            }
            Appearance::PrintedPhoto(photo) => {
                Box::new(ReplayCamera::from_frames(vec![camera_frame(&mut pipeline, photo, w, h)?])?)
            }
            Appearance::Nobody => Box::new(ReplayCamera::from_frames(vec![empty_street(w, h)?])?),
        }
    };
    std::fs::create_dir_all(screens_dir).map_err(|e| AppError::file(screens_dir, e))?;
    let display = WatchedDisplay::new(MemoryDisplay::new(size.0, size.1).with_output_dir(screens_dir), watch);
    // The person answers each screen the session presents, as their choices say.
    let shown = Shown::default();
    let leaves = matches!(person.appearance, Appearance::Nobody);
    let input = Box::new(ActingPerson::new(shown.clone(), person.choices.clone(), leaves));
    let (speaker, speech) = wiring::open_speaker_with_log(&services.config, &Simulation::default())?;
    let (printer, paper) = wiring::open_printer_with_log(&services.config, &Simulation::default())?;
    let devices = Devices { reader: Box::new(reader), camera, display, input, speaker, printer };
    // Waiting out the real walk-away time (minutes of nothing) would only slow the demo down.
    let walk_away = services.config.kiosk.walk_away_timeout_s;
    if matches!(person.appearance, Appearance::Nobody) {
        services.config.kiosk.walk_away_timeout_s = DEMO_WALK_AWAY_S;
        print(&format!("  (walk-away time shortened from {walk_away} s to {DEMO_WALK_AWAY_S} s for the demo)"));
    }

    let mut on_step = |record: &StepRecord| {
        print(&format!("  {:<14} {}  [{} ms]", record.step, record.result, record.duration.as_millis()));
    };
    let session = Session::new(devices, services, &mut on_step).with_screen_observer(shown.observer());
    let ran = tokio::time::timeout(Duration::from_secs(180), session.run()).await;
    services.config.kiosk.walk_away_timeout_s = walk_away;
    let (report, devices) =
        ran.map_err(|_| AppError::DemoExpectation("the session did not finish within 180 s".into()))??;
    // Closes the reader and stops its simulated device.
    drop(devices);
    if let Some(speech) = speech.filter(|s| !s.utterances().is_empty()) {
        let path = screens_dir.join("spoken-prompts.txt");
        std::fs::write(&path, speech.transcript()).map_err(|e| AppError::file(&path, e))?;
        print(&format!("  speaker      {} spoken prompts: {}", speech.utterances().len(), path.display()));
    }
    if let Some(receipt) = paper.and_then(|p| p.receipts().into_iter().next()) {
        let path = screens_dir.join("receipt.txt");
        std::fs::write(&path, receipt.lines().join("\n")).map_err(|e| AppError::file(&path, e))?;
        print(&format!("  printer      receipt of {} lines (ESC/POS, CP866): {}", receipt.lines().len(), path.display()));
    }
    Ok(report)
}

/// The walk-away time of the demo's person who leaves.
const DEMO_WALK_AWAY_S: u32 = 4;

/// What the camera sees when nobody stands at the kiosk: a dim, uneven street background.
fn empty_street(width: u32, height: u32) -> Result<Mat, AppError> {
    let mut frame = Mat::new_rows_cols_with_default(height as i32, width as i32, CV_8UC3, Scalar::all(70.0))
        .map_err(crate::vision::VisionError::from)?;
    let band = Rect::new(0, height as i32 * 2 / 3, width as i32, height as i32 / 3);
    imgproc::rectangle(&mut frame, band, Scalar::new(60.0, 80.0, 90.0, 0.0), -1, imgproc::LINE_8, 0)
        .map_err(crate::vision::VisionError::from)?;
    Ok(frame)
}

/// Makes the chip's portrait as a passport office would: head and shoulders cropped around
/// the face (face about 55 % of the width, 3:4), about 300×400, JPEG, 15–30 KB.
pub(crate) fn personalise_photo(pipeline: &mut FacePipeline, path: &Path) -> Result<Vec<u8>, AppError> {
    let image = read_image(path)?;
    let faces = pipeline.detector().detect(&image)?;
    let face =
        faces.iter().max_by(|a, b| a.width().total_cmp(&b.width())).ok_or_else(|| AppError::NoFace {
            image: path.display().to_string(),
            detail: "no face to personalise a passport with".into(),
        })?;
    let (cx, cy) = (face.bbox[0] + face.bbox[2] / 2.0, face.bbox[1] + face.bbox[3] / 2.0);
    let width = (face.bbox[2] / 0.55).min(image.cols() as f32).min(image.rows() as f32 * 0.75);
    let height = width * 4.0 / 3.0;
    let x = (cx - width / 2.0).clamp(0.0, image.cols() as f32 - width);
    let y = (cy - height * 0.45).clamp(0.0, image.rows() as f32 - height);
    let portrait = Mat::roi(&image, Rect::new(x as i32, y as i32, width as i32, height as i32))
        .map_err(crate::vision::VisionError::from)?;
    let mut small = Mat::default();
    imgproc::resize(&portrait, &mut small, Size::new(300, 400), 0.0, 0.0, imgproc::INTER_AREA)
        .map_err(crate::vision::VisionError::from)?;
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 85]);
    imgcodecs::imencode(".jpg", &small, &mut jpeg, &params).map_err(crate::vision::VisionError::from)?;
    Ok(jpeg.to_vec())
}

/// A camera frame of the person as the kiosk camera sees someone standing at arm's length:
/// the photo scaled so the face spans about 30 % of the frame width, face centred a little
/// above the middle, on a grey background where the photo ends.
pub fn camera_frame(pipeline: &mut FacePipeline, path: &Path, width: u32, height: u32) -> Result<Mat, AppError> {
    let photo = read_image(path)?;
    let faces = pipeline.detector().detect(&photo)?;
    let face = faces.iter().max_by(|a, b| a.width().total_cmp(&b.width())).ok_or_else(|| {
        AppError::NoFace { image: path.display().to_string(), detail: "no face for the camera to see".into() }
    })?;
    let (w, h) = (width as i32, height as i32);
    let scale = f64::from(0.3 * width as f32 / face.width());
    let mut scaled = Mat::default();
    imgproc::resize(&photo, &mut scaled, Size::new(0, 0), scale, scale, imgproc::INTER_AREA)
        .map_err(crate::vision::VisionError::from)?;
    // Where the scaled photo's top-left lands so that the face centre sits at (w/2, 0.45 h).
    let face_cx = f64::from(face.bbox[0] + face.bbox[2] / 2.0) * scale;
    let face_cy = f64::from(face.bbox[1] + face.bbox[3] / 2.0) * scale;
    let (dx, dy) = ((f64::from(w) / 2.0 - face_cx) as i32, (f64::from(h) * 0.45 - face_cy) as i32);
    let mut frame = Mat::new_rows_cols_with_default(h, w, CV_8UC3, Scalar::all(96.0))
        .map_err(crate::vision::VisionError::from)?;
    // The overlap of the placed photo with the frame, in both coordinate systems.
    let (x0, y0) = (dx.max(0), dy.max(0));
    let (x1, y1) = ((dx + scaled.cols()).min(w), (dy + scaled.rows()).min(h));
    if x1 > x0 && y1 > y0 {
        let source = Mat::roi(&scaled, Rect::new(x0 - dx, y0 - dy, x1 - x0, y1 - y0))
            .map_err(crate::vision::VisionError::from)?;
        let mut target = Mat::roi_mut(&mut frame, Rect::new(x0, y0, x1 - x0, y1 - y0))
            .map_err(crate::vision::VisionError::from)?;
        source.copy_to(&mut target).map_err(crate::vision::VisionError::from)?;
    }
    Ok(frame)
}

fn prepare_out_dir(out: &Path) -> Result<(), AppError> {
    if out.exists() {
        // Only a folder a previous demo made is emptied: never someone's unrelated folder.
        let looks_like_demo = out.join("kiosk.db").exists() || out.join("screens").exists();
        let empty = std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !looks_like_demo && !empty {
            return Err(AppError::Usage(format!(
                "{} exists and is not a previous demo's output; choose another --out",
                out.display()
            )));
        }
        std::fs::remove_dir_all(out).map_err(|e| AppError::file(out, e))?;
    }
    std::fs::create_dir_all(out.join("keys")).map_err(|e| AppError::file(out, e))
}
