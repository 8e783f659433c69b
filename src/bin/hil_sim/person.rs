//! The person in front of the emulated kiosk (`make hil`): they look at the real screen (QMP
//! `screendump` of the guest's display), press the buttons they see (QMP `input-send-event` on
//! the guest's touch screen) and show their face to the kiosk camera (raw frames over a virtio
//! serial port into the guest's v4l2loopback device, the capture device the kiosk reads).
//!
//! A screen is recognised as a person recognises it: by the button they are about to press,
//! drawn where the kiosk's own renderer draws it. The renderer gives the reference picture
//! and the place of each button, so nothing here knows pixel positions by heart. When the
//! screen asks for a head turn the person turns their head that way ([`SimulatedPerson`]).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use embedded_graphics::primitives::Rectangle;
use kiosk::app::demo::{camera_frame, ScreenWatch, SimulatedPerson};
use kiosk::flow::{ButtonId, Guidance, ReceiptStatus, Refusal, Screen, SocialStep, UiOptions};
use kiosk_hal::{display::MemoryDisplay, Camera};
use opencv::{imgcodecs, imgproc, prelude::*};
use serde_json::{json, Value};

/// The camera the guest's kiosk reads (v4l2loopback, fed by `kiosk-hil-camera`).
const CAMERA_WIDTH: u32 = 640;
const CAMERA_HEIGHT: u32 = 480;
/// Mean absolute difference per channel (0..255) under which two pictures of a region are the
/// same: the guest draws with the same renderer, so an unchanged region differs by 0; a
/// different label in the same button differs by 20 and more.
const SAME_REGION: f64 = 4.0;
const LOOK_INTERVAL: Duration = Duration::from_millis(700);

pub struct PersonArgs {
    pub qmp: PathBuf,
    pub camera: PathBuf,
    pub models: PathBuf,
    pub faces: Vec<PathBuf>,
    pub report: PathBuf,
    pub print_receipt: bool,
    /// Presses "read aloud" on the welcome screen, once.
    pub read_aloud: bool,
    pub timeout: Duration,
    /// Folder where each new screen the person sees is kept.
    pub seen: Option<PathBuf>,
}

/// One button the person is ready to press, on the screen the renderer drew it on.
struct Target {
    label: &'static str,
    button: ButtonId,
    area: Rectangle,
    pixels: Region,
}

/// An RGB picture of the display (3 bytes a pixel, rows top to bottom).
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

/// The pixels of one rectangle of a picture.
struct Region(Vec<u8>);

impl Picture {
    fn region(&self, area: &Rectangle) -> Region {
        // Clamped to the picture: a screenshot smaller than the area gives an empty region
        // (which matches nothing), never an underflow or an index out of bounds.
        let x0 = (area.top_left.x.max(0) as u32).min(self.width);
        let y0 = (area.top_left.y.max(0) as u32).min(self.height);
        let x1 = x0.saturating_add(area.size.width).min(self.width);
        let y1 = y0.saturating_add(area.size.height).min(self.height);
        let mut out = Vec::with_capacity((x1 - x0) as usize * (y1 - y0) as usize * 3);
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            let (start, end) = ((row + x0 as usize) * 3, (row + x1 as usize) * 3);
            if let Some(pixels) = self.rgb.get(start..end) {
                out.extend_from_slice(pixels);
            }
        }
        Region(out)
    }
}

impl Region {
    /// Mean absolute difference per channel; regions of different sizes never match.
    fn distance(&self, other: &Region) -> f64 {
        if self.0.len() != other.0.len() || self.0.is_empty() {
            return f64::MAX;
        }
        let sum: u64 = self.0.iter().zip(&other.0).map(|(a, b)| u64::from(a.abs_diff(*b))).sum();
        sum as f64 / self.0.len() as f64
    }
}

/// The screens the person expects and what they press on each, in the order they look for
/// them (the most specific first).
fn targets(width: u32, height: u32, print_receipt: bool, read_aloud: bool) -> Result<Vec<Target>, String> {
    let consent = |can_accept| Screen::Consent {
        version: "hil".into(),
        text: "Согласие на обработку персональных данных. ".repeat(40),
        page: 0,
        can_accept,
    };
    // Only the buttons are compared: the account's figures and token do not move them.
    let issued = |can_print, receipt| kiosk::testing::issued_screen(&"x".repeat(200), can_print, receipt);
    let mut plan: Vec<(&'static str, Screen, ButtonId)> = vec![
        ("goodbye", Screen::Goodbye { receipt_printed: false, social_payments_requested: false }, ButtonId::Finish),
        ("goodbye", Screen::Goodbye { receipt_printed: true, social_payments_requested: false }, ButtonId::Finish),
        ("refused", Screen::Refused { reason: Refusal::FaceMismatch }, ButtonId::Finish),
    ];
    if print_receipt {
        plan.push(("account-issued", issued(true, None), ButtonId::PrintReceipt));
    }
    plan.extend([
        ("account-issued", issued(false, Some(ReceiptStatus::Printed)), ButtonId::Next),
        ("account-issued", issued(true, None), ButtonId::Next),
        (
            "social-payments",
            Screen::SocialPayments { step: SocialStep::Categories, categories: Vec::new(), kinds: Vec::new() },
            ButtonId::NoThanks,
        ),
        ("consent-last-page", consent(true), ButtonId::Accept),
        ("consent", consent(false), ButtonId::ScrollDown),
    ]);
    if read_aloud {
        plan.push(("welcome", Screen::Welcome, ButtonId::Speech));
    }
    plan.push(("welcome", Screen::Welcome, ButtonId::Start));
    plan.into_iter()
        .map(|(label, screen, button)| {
            let (picture, layout) = draw(&screen, width, height)?;
            let area = layout
                .buttons
                .iter()
                .find(|(id, _)| *id == button)
                .map(|(_, area)| *area)
                .ok_or_else(|| format!("the renderer draws no {button:?} on the {label} screen"))?;
            Ok(Target { label, button, area, pixels: picture.region(&area) })
        })
        .collect()
}

fn draw(screen: &Screen, width: u32, height: u32) -> Result<(Picture, kiosk::ui::Layout), String> {
    let mut display = MemoryDisplay::new(width, height);
    let layout = kiosk::ui::render(&mut display, screen, &UiOptions::default()).map_err(|e| e.to_string())?;
    Ok((Picture { width, height, rgb: display.rgb_bytes() }, layout))
}

/// How the session ended, read off the last screen: the goodbye (`None`) or the refusal whose
/// screen the picture is nearest to (their Finish buttons look alike; the texts do not).
fn ending_shown(screen: &Picture) -> Result<Option<Refusal>, String> {
    let whole = Rectangle::new(Default::default(), embedded_graphics::geometry::Size::new(screen.width, screen.height));
    let seen = screen.region(&whole);
    let mut endings: Vec<(Option<Refusal>, Screen)> = Vec::new();
    for (receipt_printed, social_payments_requested) in [(false, false), (true, false), (false, true), (true, true)] {
        endings.push((None, Screen::Goodbye { receipt_printed, social_payments_requested }));
    }
    endings.extend(Refusal::ALL.into_iter().map(|reason| (Some(reason), Screen::Refused { reason })));
    let mut best = (f64::MAX, None);
    for (ending, drawn) in endings {
        let (picture, _) = draw(&drawn, screen.width, screen.height)?;
        let distance = picture.region(&whole).distance(&seen);
        if distance < best.0 {
            best = (distance, ending);
        }
    }
    Ok(best.1)
}

/// The head-turn instructions as drawn beside the camera preview, to tell left from right.
struct TurnReader {
    area: Rectangle,
    left: Region,
    right: Region,
}

impl TurnReader {
    fn new(width: u32, height: u32) -> Result<Self, String> {
        let face = |guidance| Screen::FaceCapture { guidance: Some(guidance), face_box: None, preview: None };
        let (left, layout) = draw(&face(Guidance::TurnLeft), width, height)?;
        let (right, _) = draw(&face(Guidance::TurnRight), width, height)?;
        let cancel = layout
            .buttons
            .iter()
            .find(|(id, _)| *id == ButtonId::Cancel)
            .map(|(_, area)| *area)
            .ok_or("the face screen has no Cancel button")?;
        // The instructions: above the Cancel button, as wide as it, below the step header.
        let top = (height / 8) as i32;
        let area = Rectangle::new(
            embedded_graphics::geometry::Point::new(cancel.top_left.x, top),
            embedded_graphics::geometry::Size::new(cancel.size.width, (cancel.top_left.y - top).max(1) as u32),
        );
        Ok(Self { left: left.region(&area), right: right.region(&area), area })
    }

    fn read(&self, screen: &Picture) -> Option<Guidance> {
        let seen = screen.region(&self.area);
        let (left, right) = (self.left.distance(&seen), self.right.distance(&seen));
        if left < SAME_REGION && left < right {
            Some(Guidance::TurnLeft)
        } else if right < SAME_REGION {
            Some(Guidance::TurnRight)
        } else {
            None
        }
    }
}

/// QEMU's monitor: one JSON object a line.
struct Qmp {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    fn connect(path: &Path) -> Result<Self, String> {
        let stream = UnixStream::connect(path).map_err(|e| format!("QMP {}: {e}", path.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut qmp = Self { writer: stream, reader };
        let greeting = qmp.read()?;
        if greeting.get("QMP").is_none() {
            return Err(format!("not a QMP greeting: {greeting}"));
        }
        qmp.execute("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).map_err(|e| format!("QMP: {e}"))? == 0 {
            return Err("QMP closed the connection (QEMU stopped?)".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("QMP answer {line:?}: {e}"))
    }

    fn execute(&mut self, command: &str, arguments: Value) -> Result<Value, String> {
        let message = json!({ "execute": command, "arguments": arguments });
        writeln!(self.writer, "{message}").map_err(|e| format!("QMP: {e}"))?;
        loop {
            let answer = self.read()?;
            if answer.get("event").is_some() {
                continue;
            }
            if let Some(error) = answer.get("error") {
                return Err(format!("QMP {command}: {error}"));
            }
            return Ok(answer.get("return").cloned().unwrap_or(Value::Null));
        }
    }

    fn screen(&mut self, scratch: &Path) -> Result<Picture, String> {
        self.execute("screendump", json!({ "filename": scratch, "format": "png" }))?;
        picture_from_png(scratch)
    }

    /// A finger on the display at pixel (x, y): QEMU's absolute axes span 0..0x7fff.
    fn tap(&mut self, x: i32, y: i32, width: u32, height: u32) -> Result<(), String> {
        let scale = |v: i32, size: u32| (i64::from(v) * 0x7fff / i64::from(size.saturating_sub(1).max(1))).clamp(0, 0x7fff);
        let down = json!({ "events": [
            { "type": "abs", "data": { "axis": "x", "value": scale(x, width) } },
            { "type": "abs", "data": { "axis": "y", "value": scale(y, height) } },
            { "type": "btn", "data": { "down": true, "button": "left" } } ] });
        self.execute("input-send-event", down)?;
        std::thread::sleep(Duration::from_millis(120));
        self.execute("input-send-event", json!({ "events": [{ "type": "btn", "data": { "down": false, "button": "left" } }] }))?;
        Ok(())
    }
}

/// How long the person holds each pose, and the steps of their head turn (every frame of the
/// demo's clip: 3° of rotation a step, about 3° of yaw a second). The turn out and back (about
/// 22 poses) takes some 22 s of the emulated kiosk's 30 s (scripts/hil/site.toml); under TCG the
/// kiosk follows the face in a window around it, 3.1-4.9 s a frame (README), and sees the yaw
/// move some 10-15° between two of its frames, about the challenge's 15° a frame.
const POSE_HOLD: Duration = Duration::from_millis(1000);
const TURN_STRIDE: usize = 1;

/// Streams the person's frames into the guest's camera until `stop`: one frame a pose, which
/// the guest's camera delivers at its frame rate until the next (`kiosk-hil-camera-feed`).
fn show_face(mut person: SimulatedPerson, camera: &Path, stop: Arc<AtomicBool>) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut port = loop {
        match UnixStream::connect(camera) {
            Ok(port) => break port,
            Err(e) if Instant::now() > deadline => return Err(format!("camera port {}: {e}", camera.display())),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let mut sent: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        let frame = person.capture().map_err(|e| e.to_string())?;
        let bytes = frame.image.data_bytes().map_err(|e| e.to_string())?;
        if bytes.len() != (CAMERA_WIDTH * CAMERA_HEIGHT * 3) as usize {
            return Err(format!("a frame of {} bytes, not {CAMERA_WIDTH}x{CAMERA_HEIGHT} BGR", bytes.len()));
        }
        let shown = Instant::now();
        port.write_all(bytes).map_err(|e| format!("camera port: {e}"))?;
        sent += 1;
        std::thread::sleep(POSE_HOLD.saturating_sub(shown.elapsed()));
    }
    Ok(sent)
}

/// What the person makes of a screenshot (PNG): the distance to each button they look for
/// and the head turn they read. For working on the rig without a VM.
pub fn explain(png: &Path, print_receipt: bool, read_aloud: bool) -> Result<(), String> {
    let screen = picture_from_png(png)?;
    for target in targets(screen.width, screen.height, print_receipt, read_aloud)? {
        let distance = target.pixels.distance(&screen.region(&target.area));
        println!("{:<18} {:<14} at {:?}: distance {distance:.2}", target.label, format!("{:?}", target.button), target.area);
    }
    println!("head turn read: {:?}", TurnReader::new(screen.width, screen.height)?.read(&screen));
    Ok(())
}

/// The text of the one QR code on the screen, as a phone's scanner reads it.
fn read_qr(screen: &Picture) -> Option<String> {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(screen.width as usize, screen.height as usize, |x, y| {
        let at = (y * screen.width as usize + x) * 3;
        screen.rgb.get(at..at + 3).map_or(255, |p| ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8)
    });
    let grids = image.detect_grids();
    let text = grids.first()?.decode().ok().map(|(_, text)| text);
    if text.is_none() {
        eprintln!("person: the account screen shows no QR code a scanner reads ({} found)", grids.len());
    }
    text
}

fn picture_from_png(png: &Path) -> Result<Picture, String> {
    let image = imgcodecs::imread(png, imgcodecs::IMREAD_COLOR).map_err(|e| e.to_string())?;
    if image.empty() {
        return Err(format!("{}: not a picture OpenCV reads", png.display()));
    }
    let mut rgb = Mat::default();
    imgproc::cvt_color_def(&image, &mut rgb, imgproc::COLOR_BGR2RGB).map_err(|e| e.to_string())?;
    let bytes = rgb.data_bytes().map_err(|e| e.to_string())?.to_vec();
    Ok(Picture { width: rgb.cols() as u32, height: rgb.rows() as u32, rgb: bytes })
}

pub fn run(args: PersonArgs) -> Result<(), String> {
    let mut config = kiosk_config::load(None).map_err(|e| e.to_string())?;
    config.models.dir = args.models.clone();
    let mut pipeline = kiosk::wiring::face_pipeline(&config).map_err(|e| e.to_string())?;
    let rest = args
        .faces
        .iter()
        .map(|face| camera_frame(&mut pipeline, face, CAMERA_WIDTH, CAMERA_HEIGHT).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let watch = ScreenWatch::default();
    let person =
        SimulatedPerson::new(rest, &mut pipeline, watch.clone()).map_err(|e| e.to_string())?.turning_in_steps_of(TURN_STRIDE);
    let stop = Arc::new(AtomicBool::new(false));
    // The camera thread answers on a channel: a guest that stopped reading its port leaves
    // the thread blocked in a write, and the person must still go home and report.
    let (camera_done, camera_result) = std::sync::mpsc::channel();
    {
        let (path, stop) = (args.camera.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let _ = camera_done.send(show_face(person, &path, stop));
        });
    }
    let outcome = watch_and_press(&args, &watch);
    stop.store(true, Ordering::Relaxed);
    let frames = match camera_result.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(frames)) => json!(frames),
        Ok(Err(e)) => json!(format!("camera failed: {e}")),
        Err(_) => json!("the guest stopped taking camera frames"),
    };
    let mut report = match outcome {
        Ok(report) => report,
        Err(e) => {
            eprintln!("person: {e}");
            json!({ "outcome": "error", "error": e })
        }
    };
    report["camera_frames"] = frames;
    std::fs::write(&args.report, format!("{report:#}\n")).map_err(|e| format!("{}: {e}", args.report.display()))?;
    println!("person: {}", report["outcome"]);
    Ok(())
}

/// The session as the person lives it: look, press what the screen offers, turn when asked,
/// until the goodbye or the refusal has been acknowledged.
fn watch_and_press(args: &PersonArgs, watch: &ScreenWatch) -> Result<Value, String> {
    let started = Instant::now();
    let mut qmp = Qmp::connect(&args.qmp)?;
    let scratch = std::env::temp_dir().join(format!("kiosk-hil-person-{}.png", std::process::id()));
    let first = qmp.screen(&scratch)?;
    let (width, height) = (first.width, first.height);
    let plan = targets(width, height, args.print_receipt, args.read_aloud)?;
    let turns = TurnReader::new(width, height)?;
    let mut actions = Vec::new();
    let mut turned = Vec::new();
    let mut last_turn = None;
    // Buttons pressed once: "print" and "read aloud" (pressing either again would undo it).
    let mut pressed_once: Vec<ButtonId> = Vec::new();
    let mut token = None;
    let (mut saved, mut last_saved) = (0u32, None);
    let outcome = loop {
        if started.elapsed() > args.timeout {
            break json!({ "outcome": "timeout" });
        }
        let screen = qmp.screen(&scratch)?;
        if let Some(dir) = &args.seen {
            // Every new screen the person sees is kept, as evidence of the session.
            let whole = Rectangle::new(Default::default(), embedded_graphics::geometry::Size::new(width, height));
            let picture = screen.region(&whole);
            if last_saved.as_ref().is_none_or(|last: &Region| last.distance(&picture) > 1.0) {
                saved += 1;
                let name = dir.join(format!("{saved:03}-{:.0}s.png", started.elapsed().as_secs_f32()));
                std::fs::copy(&scratch, &name).map_err(|e| format!("{}: {e}", name.display()))?;
                last_saved = Some(picture);
            }
        }
        let turn = turns.read(&screen);
        if turn != last_turn {
            if let Some(direction) = turn {
                watch.record(if direction == Guidance::TurnLeft { "face-turn-left" } else { "face-turn-right" });
                let seen = json!({ "t_s": started.elapsed().as_secs_f32(), "turn": format!("{direction:?}") });
                println!("person: {seen}");
                turned.push(seen);
            } else {
                watch.record("face");
            }
            last_turn = turn;
        }
        let seen = plan.iter().find(|t| {
            !pressed_once.contains(&t.button) && t.pixels.distance(&screen.region(&t.area)) < SAME_REGION
        });
        let Some(target) = seen else {
            std::thread::sleep(LOOK_INTERVAL);
            continue;
        };
        if target.label == "account-issued" && token.is_none() {
            // What the person's phone would scan: the QR code as the guest drew it.
            token = read_qr(&screen);
        }
        let ending = if target.button == ButtonId::Finish { Some(ending_shown(&screen)?) } else { None };
        let centre = target.area.center();
        qmp.tap(centre.x, centre.y, width, height)?;
        let action = json!({ "t_s": started.elapsed().as_secs_f32(), "screen": target.label,
                             "button": format!("{:?}", target.button) });
        println!("person: {action}");
        actions.push(action);
        if matches!(target.button, ButtonId::PrintReceipt | ButtonId::Speech) {
            pressed_once.push(target.button);
        }
        if target.button == ButtonId::Finish {
            break match ending.flatten() {
                Some(reason) => json!({ "outcome": "refused", "refusal": format!("{reason:?}") }),
                None => json!({ "outcome": "account_issued" }),
            };
        }
        // The press is answered when the screen changes (the next consent page keeps the same
        // button); a tap that changed nothing in 20 s was lost and is tried again.
        let whole = Rectangle::new(Default::default(), embedded_graphics::geometry::Size::new(width, height));
        let before = screen.region(&whole);
        let answered_by = Instant::now() + Duration::from_secs(20);
        while Instant::now() < answered_by {
            std::thread::sleep(Duration::from_millis(400));
            if qmp.screen(&scratch)?.region(&whole).distance(&before) > 0.05 {
                break;
            }
        }
    };
    let _ = std::fs::remove_file(&scratch);
    let mut report = outcome;
    report["actions"] = json!(actions);
    report["turns"] = json!(turned);
    report["token"] = json!(token);
    report["seconds"] = json!(started.elapsed().as_secs_f32());
    Ok(report)
}
