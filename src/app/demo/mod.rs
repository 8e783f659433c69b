//! `kiosk demo`: whole onboardings on simulated hardware, end to end through the real layers —
//! the serial protocol on a pseudo-terminal, the face models through onnxruntime, the
//! screens through embedded-graphics, the store in SQLite.
//!
//! Two scripted people: the holder of passport 1, who is issued an account, and an impostor
//! presenting passport 2 (someone else's photo), who is refused with nothing kept.

mod person;

pub use person::{synthetic_turn, turn_clip, ScreenWatch, SimulatedPerson, WatchedDisplay};

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kiosk_config::Config;
use kiosk_hal::{
    card_reader::{
        sim::{self, SimulatorConfig, VirtualPassport},
        SerialCardReader,
    },
    camera::ReplayCamera,
    display::MemoryDisplay,
    input::ScriptedInput,
    Camera, CardReader, InputEvent,
};
use opencv::{
    core::{Mat, Rect, Scalar, Size, Vector, CV_8UC3},
    imgcodecs, imgproc,
    prelude::*,
};

use super::{
    pipeline_settings,
    session::{Consent, Devices, Services, Session, SessionReport, StepRecord},
    AppError,
};
use crate::{
    account::KioskIdentity,
    flow::Outcome,
    identity::mrz::check_digit,
    store::{KeyStore, Store},
    ui::{self, ButtonId, Refusal, Screen, UiOptions},
    vision::{read_image, FacePipeline},
};

/// What the kiosk camera sees of a demo person.
pub enum Appearance {
    /// A real person: still frames from these photos, and a head that turns when asked.
    Person(Vec<PathBuf>),
    /// Someone holding a printed photo up to the camera (a presentation attack).
    PrintedPhoto(PathBuf),
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
    pub declines_consent: bool,
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
        declines_consent: false,
        expected,
    };
    let holder = || Appearance::Person(vec![face("obama3.jpg"), face("obama2.jpg")]);
    vec![
        person(
            "the passport holder",
            compose_td3("PETROV", "IVAN", "7100012345", "RUS", "850314", 'M', "310101"),
            "obama.jpg",
            holder(),
            Outcome::AccountIssued,
        ),
        person(
            "an impostor with someone else's passport",
            compose_td3("SIDOROV", "PAVEL", "7100054321", "RUS", "790822", 'M', "300615"),
            "biden.jpg",
            Appearance::Person(vec![face("obama3.jpg")]),
            Outcome::Refused(Refusal::FaceMismatch),
        ),
        person(
            "the holder again, with a new passport (already enrolled here)",
            compose_td3("PETROV", "IVAN", "7200098765", "RUS", "850314", 'M', "360101"),
            "obama3.jpg",
            holder(),
            Outcome::Refused(Refusal::AlreadyEnrolled),
        ),
        person(
            "someone holding a printed photo up to the camera",
            compose_td3("SIDOROV", "PAVEL", "7100054321", "RUS", "790822", 'M', "300615"),
            "biden.jpg",
            // The print-attack sample of the Silent-Face project, kept beside the tests.
            Appearance::PrintedPhoto(models_dir.join("../tests/data/pad-samples/image_F1.jpg")),
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
        DemoPerson {
            declines_consent: true,
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AppError::io("tokio runtime", e))?;
    runtime.block_on(run(config, out, &mut |line| println!("{line}")))
}

/// Runs the demo, writing what happens through `print`; checks each person's expected outcome.
pub async fn run(
    config: Config,
    out: &Path,
    print: &mut dyn FnMut(&str),
) -> Result<Vec<SessionReport>, AppError> {
    let started = Instant::now();
    prepare_out_dir(out)?;
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
    let pipeline = FacePipeline::load(&config.models.dir, pipeline_settings(&config))?;
    print(&format!(
        "  set-up     models verified against MANIFEST.toml (sha256) and loaded: YuNet, SFace, MiniFASNet ×2  [{} ms]",
        t.elapsed().as_millis()
    ));

    let consent = Consent::from_config(&config)?;
    let limits = super::session::limits_of(&config)?;
    let gallery = super::session::load_gallery(&store)?;
    let mut services = Services {
        gallery,
        pipeline: Arc::new(Mutex::new(pipeline)),
        store,
        identity: Arc::clone(&identity),
        limits,
        consent,
        config,
    };

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
            services.pipeline.lock().map_err(|_| AppError::io("face pipeline", "poisoned lock"))?;
        personalise_photo(&mut pipeline, &person.passport_photo)?
    };
    let mut chip = VirtualPassport::new(person.passport_mrz.to_vec(), passport_jpeg);
    if person.forged_signature {
        let forger = sim::TestPki::generate("forger").map_err(|e| AppError::io("forger's test PKI", e))?;
        chip = chip.signed_by(&forger);
    }
    let simulator = sim::spawn(SimulatorConfig {
        baud: services.config.card_reader.baud,
        ..SimulatorConfig::with_document(chip)
    })
    .map_err(|e| AppError::io("card reader simulator", e))?;
    let mut reader = SerialCardReader::open(simulator.port_path(), services.config.card_reader.baud)?;
    let firmware = reader.firmware_version()?;
    reader.initialise()?;
    print(&format!(
        "  devices    card reader '{firmware}' on {} (pseudo-terminal, {} baud)",
        simulator.port_path(),
        services.config.card_reader.baud
    ));

    let watch = ScreenWatch::default();
    let camera: Box<dyn Camera> = {
        let mut pipeline =
            services.pipeline.lock().map_err(|_| AppError::io("face pipeline", "poisoned lock"))?;
        let (w, h) = (services.config.camera.width, services.config.camera.height);
        match &person.appearance {
            Appearance::Person(photos) => {
                let frames =
                    photos.iter().map(|p| camera_frame(&mut pipeline, p, w, h)).collect::<Result<Vec<_>, _>>()?;
                Box::new(SimulatedPerson::new(frames, &mut pipeline, watch.clone())?)
            }
            Appearance::PrintedPhoto(photo) => {
                Box::new(ReplayCamera::from_frames(vec![camera_frame(&mut pipeline, photo, w, h)?])?)
            }
        }
    };
    std::fs::create_dir_all(screens_dir).map_err(|e| AppError::io(screens_dir.display().to_string(), e))?;
    let display = WatchedDisplay::new(MemoryDisplay::new(size.0, size.1).with_output_dir(screens_dir), watch);
    let input = ScriptedInput::new(script_touches(person.declines_consent, person.expected, size)?);
    let devices = Devices { reader: Box::new(reader), camera, display, input: Box::new(input) };

    let mut on_step = |record: &StepRecord| {
        print(&format!("  {:<14} {}  [{} ms]", record.step, record.result, record.duration.as_millis()));
    };
    let session = Session::new(devices, services, &mut on_step);
    let (report, _devices) = tokio::time::timeout(Duration::from_secs(180), session.run())
        .await
        .map_err(|_| AppError::DemoExpectation("the session did not finish within 180 s".into()))??;
    simulator.shutdown();
    Ok(report)
}

/// Touches at the centres of the buttons the person presses: Start, Accept (or Decline), then
/// Finish on the result screen they expect (the layout is what the kiosk itself draws).
fn script_touches(
    declines: bool,
    expected: Outcome,
    (width, height): (u32, u32),
) -> Result<Vec<InputEvent>, AppError> {
    let options = UiOptions::default();
    let centre = |screen: &Screen, button: ButtonId| -> Result<InputEvent, AppError> {
        let mut scratch = MemoryDisplay::new(width, height);
        let layout = ui::render(&mut scratch, screen, &options)?;
        let point = layout.center_of(button).ok_or_else(|| {
            AppError::DemoExpectation(format!("{button:?} is not on the {screen:?} screen"))
        })?;
        Ok(InputEvent::Touch { x: point.x, y: point.y })
    };
    let consent = Screen::Consent { version: String::new(), text: String::new(), page: 0, can_accept: true };
    let result = match expected {
        Outcome::AccountIssued => Screen::AccountIssued {
            account_reference: String::new(),
            per_transaction_limit_rub: 0,
            daily_limit_rub: 0,
            monthly_limit_rub: 0,
            activation_token: "x".into(),
            expires_at: String::new(),
            can_print: false,
            receipt: None,
        },
        Outcome::Refused(reason) => Screen::Refused { reason },
    };
    Ok(vec![
        centre(&Screen::Welcome, ButtonId::Start)?,
        centre(&consent, if declines { ButtonId::Decline } else { ButtonId::Accept })?,
        centre(&result, ButtonId::Finish)?,
    ])
}

/// Makes the chip's portrait as a passport office would: head and shoulders cropped around
/// the face (face about 55 % of the width, 3:4), about 300×400, JPEG, 15–30 KB.
fn personalise_photo(pipeline: &mut FacePipeline, path: &Path) -> Result<Vec<u8>, AppError> {
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
fn camera_frame(pipeline: &mut FacePipeline, path: &Path, width: u32, height: u32) -> Result<Mat, AppError> {
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
        std::fs::remove_dir_all(out).map_err(|e| AppError::io(out.display().to_string(), e))?;
    }
    std::fs::create_dir_all(out.join("keys")).map_err(|e| AppError::io(out.display().to_string(), e))
}
