//! The live face: the capture burst with its quality gates and passive liveness, the
//! head-turn challenge, the 1:1 match with the document photo, and the duplicate checks (the
//! exact one before the camera, the face search after the match).
//! Frames stay on the blocking thread; `vision` picks the frame and reads the pose.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiosk_hal::{Camera, Display};
use opencv::core::{Mat, Rect};
use opencv::prelude::*;

use super::{preview, Session, AppError};
use crate::{
    flow::{self, Event, FaceBox, Guidance, Screen},
    store, ui,
    vision::{
        pose_sample, window_around, BurstPicker, ChallengeRules, ChallengeStatus, ChallengeTracker, Detection,
        Embedding, FacePipeline, MatchDecision, TurnDirection,
    },
    wiring,
};

impl<D: Display + 'static> Session<'_, D> {
    pub(super) async fn capture_face(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        self.data.face_checks.attempts += 1;
        let burst = self.services.config.camera.burst_frames.max(1) as usize;
        let spec = self.preview_spec()?;
        let pipeline = Arc::clone(&self.services.pipeline);
        // Frames stay on the blocking thread and die there: only their analysis (and a
        // screen-sized preview) comes back.
        let captured = self.on_devices(move |d| best_of_burst(d.camera.as_mut(), &pipeline, burst, spec)).await?;
        let capture = match captured {
            Ok(capture) => capture,
            Err(AppError::Camera(error)) => return Ok(self.camera_fault("face capture", &error, started)),
            Err(other) => return Err(other),
        };
        let preview = capture.preview;
        let Some(best) = capture.best else {
            // Nobody there: said once, not redrawn and logged for every burst until they return.
            if self.empty_bursts == 0 {
                self.show(&Screen::FaceCapture { guidance: Some(Guidance::LookAtCamera), face_box: None, preview })?;
                self.log("face capture", format!("no face in {burst} frames: waiting for the person"), started);
            }
            self.empty_bursts += 1;
            return Ok(Event::FaceNotFound { someone_there: false });
        };
        if self.empty_bursts > 0 {
            self.log("face capture", format!("a face again after {} empty bursts", self.empty_bursts), started);
            self.empty_bursts = 0;
        }
        let face_box = self.display_box(best.detection.bbox, capture.frame_size)?;
        let advice = best.quality.advice();
        self.show(&Screen::FaceCapture { guidance: advice.map(guidance_for), face_box: Some(face_box), preview })?;
        let pose = best.quality.pose;
        let quality = format!(
            "best of {burst} frames: {}/{} quality gates passed (eyes {:.0} px apart, yaw {:+.0}°, pitch {:+.0}°, roll {:+.0}°, sharpness {:.0})",
            best.quality.rank().0,
            best.quality.gates.len(),
            best.quality.value(crate::vision::quality::Gate::InterEyeDistance).unwrap_or(0.0),
            pose.yaw,
            pose.pitch,
            pose.roll,
            best.quality.value(crate::vision::quality::Gate::Sharpness).unwrap_or(0.0),
        );
        if let Some(advice) = advice {
            self.log("face capture", format!("{quality}; asking the person: {advice:?}"), started);
            return Ok(Event::FaceNotFound { someone_there: true });
        }
        self.log("face capture", quality, started);
        let Some((liveness, embedding, liveness_took)) = best.live else {
            return Err(AppError::internal("face capture", "analysis missing for the best frame"));
        };
        self.log_took(
            "liveness",
            format!(
                "passive (MiniFASNet ×2): live probability {:.2} (threshold {:.2}): {}",
                liveness.real_probability,
                liveness.threshold,
                if liveness.live { "live person" } else { "PRESENTATION ATTACK" }
            ),
            liveness_took,
        );
        self.data.liveness = Some(liveness);
        self.data.face_checks.passive_live_probability = Some(liveness.real_probability);
        self.data.face_checks.passive_live = Some(liveness.live);
        if !liveness.live {
            return Ok(Event::LivenessFailed);
        }
        self.data.live_face = Some(embedding);
        self.data.challenge_window = window_around(&best.detection, capture.frame_size.0, capture.frame_size.1);
        Ok(Event::FaceCaptured)
    }

    /// Active liveness: asks for a head turn to a random side and follows it frame by frame.
    pub(super) async fn run_challenge(&mut self) -> Result<Event, AppError> {
        let direction = if rand::random::<bool>() { TurnDirection::Left } else { TurnDirection::Right };
        let guidance = match direction {
            TurnDirection::Left => Guidance::TurnLeft,
            TurnDirection::Right => Guidance::TurnRight,
        };
        self.show(&Screen::FaceCapture { guidance: Some(guidance), face_box: None, preview: None })?;
        let rules = wiring::challenge_rules(&self.services.config.face.challenge);
        let started = Instant::now();
        let pipeline = Arc::clone(&self.services.pipeline);
        let start = self.data.challenge_window;
        let followed =
            self.on_devices(move |d| follow_challenge(d.camera.as_mut(), &pipeline, direction, rules, start)).await?;
        let ChallengeOutcome { status, frames, full_searches, peak_turn_deg: peak, capture_time, analysis_time } =
            match followed {
            Ok(result) => result,
            Err(AppError::Camera(error)) => return Ok(self.camera_fault("challenge", &error, started)),
            Err(other) => return Err(other),
        };
        let passed = status == ChallengeStatus::Passed;
        self.data.face_checks.challenge_direction = Some(match direction {
            TurnDirection::Left => "left",
            TurnDirection::Right => "right",
        });
        self.data.face_checks.challenge_result = Some(match status {
            ChallengeStatus::Passed => "passed",
            ChallengeStatus::Failed(crate::vision::challenge::ChallengeFailure::WrongDirection) => "wrong_direction",
            ChallengeStatus::Failed(crate::vision::challenge::ChallengeFailure::TimedOut) => "timed_out",
            ChallengeStatus::Failed(crate::vision::challenge::ChallengeFailure::Discontinuity) => "discontinuity",
            ChallengeStatus::InProgress { .. } => "unfinished",
        });
        // For the technician (no personal data): why a challenge failed on this kiosk's camera.
        tracing::info!(session = %self.id, direction = ?direction, result = self.data.face_checks.challenge_result,
            frames, full_searches, peak_turn_deg = peak, elapsed_ms = started.elapsed().as_millis() as u64,
            capture_ms = capture_time.as_millis() as u64, analysis_ms = analysis_time.as_millis() as u64, "challenge decided");
        self.log(
            "challenge",
            format!(
                "asked to turn {direction:?}: {} over {frames} frames (peak turn {peak:.0}°)",
                match status {
                    ChallengeStatus::Passed => "turned and came back: live".to_string(),
                    ChallengeStatus::Failed(why) => format!("FAILED ({why:?})"),
                    ChallengeStatus::InProgress { .. } => "unfinished".to_string(),
                }
            ),
            started,
        );
        Ok(if passed { Event::ChallengePassed } else { Event::ChallengeFailed })
    }

    /// A camera that stopped delivering frames ends the session out of service.
    fn camera_fault(&mut self, step: &'static str, error: &kiosk_hal::CameraError, started: Instant) -> Event {
        self.log(step, format!("camera fault: {error}"), started);
        self.report.device_fault = Some("camera");
        Event::DeviceFault
    }

    pub(super) fn compare_faces(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let document_face = self.data.document_face.as_ref().ok_or_else(|| AppError::internal("session", "no document face"))?;
        let live_face = self.data.live_face.as_ref().ok_or_else(|| AppError::internal("session", "no live face"))?;
        let decision = MatchDecision::compare(document_face, live_face, self.services.config.face.match_threshold);
        self.log(
            "1:1 match",
            format!(
                "cosine {:.3} vs threshold {:.3}: {}",
                decision.score,
                decision.threshold,
                if decision.same_person { "same person" } else { "NOT the document holder" }
            ),
            started,
        );
        self.data.face_checks.match_score = Some(decision.score);
        Ok(Event::FaceCompared { same_person: decision.same_person })
    }

    fn preview_spec(&mut self) -> Result<PreviewSpec, AppError> {
        let area = ui::face_preview_area(self.devices()?.display.size(), &self.options);
        let redact = self.services.config.display.driver == kiosk_config::DisplayDriver::Memory;
        Ok(PreviewSpec { fit: (area.size.width, area.size.height), redact })
    }

    /// Maps a face box from camera pixels into the screen's camera preview area (the frame
    /// fitted into it, aspect kept, centred, mirrored like the preview).
    fn display_box(&mut self, bbox: [f32; 4], frame: (i32, i32)) -> Result<FaceBox, AppError> {
        let bbox = [frame.0 as f32 - bbox[0] - bbox[2], bbox[1], bbox[2], bbox[3]];
        let area = ui::face_preview_area(self.devices()?.display.size(), &self.options);
        let scale = (area.size.width as f32 / frame.0.max(1) as f32)
            .min(area.size.height as f32 / frame.1.max(1) as f32);
        let offset_x = area.top_left.x as f32 + (area.size.width as f32 - frame.0 as f32 * scale) / 2.0;
        let offset_y = area.top_left.y as f32 + (area.size.height as f32 - frame.1 as f32 * scale) / 2.0;
        Ok(FaceBox {
            x: (offset_x + bbox[0] * scale) as i32,
            y: (offset_y + bbox[1] * scale) as i32,
            width: (bbox[2] * scale).max(1.0) as u32,
            height: (bbox[3] * scale).max(1.0) as u32,
        })
    }

    /// The exact check, right after the document is read and before the camera: the same
    /// document, or the same holder on another document (name and birth date), found by keyed
    /// hashes without biometrics. The kind found is recorded.
    pub(super) fn check_exact_duplicate(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let keys = self.enrolment_keys().ok_or_else(|| AppError::internal("session", "no document read"))?;
        let kind = self.services.store.enrolled_as(&keys)?;
        self.data.face_checks.duplicate_kind = kind.map(store::DuplicateKind::code);
        let detail = match kind {
            Some(kind) => format!(
                "{}: an earlier enrolment of this {}: ALREADY ENROLLED",
                kind.code(),
                if kind == store::DuplicateKind::Document { "document" } else { "holder (name and birth date)" }
            ),
            None => "neither the document nor its holder enrolled before".to_string(),
        };
        self.log("exact check", detail, started);
        Ok(Event::ExactDuplicateChecked { already_enrolled: kind.is_some() })
    }

    /// After the match, the face among the enrolments of the same birth date at
    /// `face.duplicate_threshold` (docs/FACE-MATCHING.md); the exact check has passed already.
    pub(super) fn check_duplicate(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let keys = self.enrolment_keys();
        let live = self.data.live_face.as_ref().ok_or_else(|| AppError::internal("session", "no live face"))?;
        let threshold = self.services.config.face.duplicate_threshold;
        let found = self.services.gallery.search(keys.as_ref().map(|k| &k.birth), live);
        self.data.face_checks.duplicate_best_score = found.best;
        let face = found.best.is_some_and(|score| score >= threshold);
        let best = found.best.map_or("none".to_string(), |score| format!("{score:.3}"));
        if face {
            self.data.face_checks.duplicate_kind = Some(store::DuplicateKind::Face.code());
        }
        let verdict = if face { "ALREADY ENROLLED" } else { "new person" };
        self.log(
            "1:N search",
            format!(
                "{} of {} enrolled template(s) share the birth date, best cosine {best} vs {threshold:.3}: {verdict}",
                found.searched,
                self.services.gallery.len(),
            ),
            started,
        );
        Ok(Event::DuplicateChecked { already_enrolled: face })
    }

    /// The keyed look-up hashes of the document read in this session.
    pub(super) fn enrolment_keys(&self) -> Option<store::EnrolmentKeys> {
        let mrz = &self.data.passport.as_ref()?.mrz;
        let key = self.services.store.lookup_key();
        Some(key.enrolment(&mrz.issuing_state, &mrz.document_number, &mrz.surname, &mrz.given_names, &mrz.birth_date))
    }
}

/// What a burst of frames gave: the best face (by quality) with, when it passed every gate,
/// its liveness verdict and template.
struct BurstCapture {
    best: Option<BestFace>,
    frame_size: (i32, i32),
    /// The best frame (or the last one) for the screen.
    preview: Option<flow::Preview>,
}

/// How the camera picture is shown: the preview area's size, and whether to pixelate it.
#[derive(Debug, Clone, Copy)]
struct PreviewSpec {
    fit: (u32, u32),
    redact: bool,
}

struct BestFace {
    detection: crate::vision::Detection,
    quality: crate::vision::QualityReport,
    /// Liveness verdict, template, and how long the liveness models took.
    live: Option<(crate::vision::LivenessVerdict, Embedding, Duration)>,
}

/// Captures `burst` frames, keeps the best face by quality, and runs the expensive stages
/// (liveness, embedding) on that frame only.
fn best_of_burst(
    camera: &mut dyn Camera,
    pipeline: &Mutex<FacePipeline>,
    burst: usize,
    preview: PreviewSpec,
) -> Result<BurstCapture, AppError> {
    let mut pipeline = pipeline.lock().map_err(|_| AppError::internal("face pipeline", "poisoned lock"))?;
    let mut picker = BurstPicker::new();
    let mut frame_size = (0, 0);
    for _ in 0..burst {
        let frame = camera.capture()?;
        frame_size = (
            opencv::prelude::MatTraitConst::cols(&frame.image),
            opencv::prelude::MatTraitConst::rows(&frame.image),
        );
        let candidate = pipeline.candidate(&frame.image)?;
        picker.offer(frame.image, candidate);
    }
    let preview = picker.shown().map(|image| preview::preview_of(image, preview.fit, preview.redact)).transpose()?;
    let Some((image, candidate)) = picker.into_best() else {
        return Ok(BurstCapture { best: None, frame_size, preview });
    };
    let live = if candidate.quality.passed() {
        let started = Instant::now();
        let verdict = pipeline.liveness(&image, &candidate.detection)?;
        let took = started.elapsed();
        Some((verdict, pipeline.embed(&candidate.aligned)?, took))
    } else {
        None
    };
    Ok(BurstCapture {
        best: Some(BestFace { detection: candidate.detection, quality: candidate.quality, live }),
        frame_size,
        preview,
    })
}

/// How a challenge ended, and where its time went: waiting for the camera or analysing frames
/// (for the technician when a kiosk's challenges time out).
#[derive(Debug, Clone, Copy)]
pub struct ChallengeOutcome {
    pub status: ChallengeStatus,
    pub frames: usize,
    /// Frames searched whole (the others only in the window around the face).
    pub full_searches: usize,
    pub peak_turn_deg: f32,
    pub capture_time: Duration,
    pub analysis_time: Duration,
}

/// Captures frames until the challenge is decided (its time limit bounds the loop). `start` is
/// the window the face is first looked for in (`window_around` the face just captured); without
/// it, or when the face is not in it, the first frame is searched whole.
pub fn follow_challenge(
    camera: &mut dyn Camera,
    pipeline: &Mutex<FacePipeline>,
    direction: TurnDirection,
    rules: ChallengeRules,
    start: Option<Rect>,
) -> Result<ChallengeOutcome, AppError> {
    let mut pipeline = pipeline.lock().map_err(|_| AppError::internal("face pipeline", "poisoned lock"))?;
    let mut tracker = ChallengeTracker::new(direction, rules);
    let started = Instant::now();
    let (mut frames, mut full_searches, mut capture_time, mut analysis_time) = (0, 0, Duration::ZERO, Duration::ZERO);
    let mut window = start;
    loop {
        let asked = Instant::now();
        let frame = camera.capture()?;
        let captured = Instant::now();
        frames += 1;
        let (faces, searched_whole) = find_followed_face(&mut pipeline, &frame.image, &mut window)?;
        full_searches += usize::from(searched_whole);
        let sample = pose_sample(&faces);
        capture_time += captured - asked;
        analysis_time += captured.elapsed();
        let status = tracker.observe(started.elapsed(), sample);
        if !matches!(status, ChallengeStatus::InProgress { .. }) {
            let peak_turn_deg = tracker.peak_yaw();
            return Ok(ChallengeOutcome { status, frames, full_searches, peak_turn_deg, capture_time, analysis_time });
        }
    }
}

/// The faces of a challenge frame, as seen in the window the challenge follows the face in
/// (`FaceDetector::detect_in`, under half the work of a full search). The window stays where
/// it is while the face is in it, so every pose of one challenge comes from the same framing.
/// When there is no window yet or the face left it, the whole frame is searched, its faces
/// are the frame's, and the window is placed around the largest of them. Tells whether the
/// frame was searched whole.
fn find_followed_face(
    pipeline: &mut FacePipeline,
    image: &Mat,
    window: &mut Option<Rect>,
) -> Result<(Vec<Detection>, bool), AppError> {
    let detector = pipeline.detector();
    if let Some(current) = *window {
        let near = detector.detect_in(image, current)?;
        if !near.is_empty() {
            return Ok((near, false));
        }
    }
    let faces = detector.detect(image)?;
    let largest = faces.iter().max_by(|a, b| a.width().total_cmp(&b.width()));
    *window = largest.and_then(|face| window_around(face, image.cols(), image.rows()));
    // The window reads the landmarks the full search just read (within a degree of yaw,
    // tests/face_models.rs): its faces are these, no second search.
    Ok((faces, true))
}

fn guidance_for(advice: crate::vision::Advice) -> Guidance {
    use crate::vision::Advice as A;
    match advice {
        A::OnePersonOnly => Guidance::OnePersonOnly,
        A::ComeCloser => Guidance::ComeCloser,
        A::MoveBack => Guidance::MoveBack,
        A::LookAtCamera => Guidance::LookAtCamera,
        A::HoldStill => Guidance::HoldStill,
        A::TooDark => Guidance::TooDark,
        A::TooBright => Guidance::TooBright,
        A::UnevenLight => Guidance::UnevenLight,
    }
}
