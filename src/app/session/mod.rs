//! One person's session: performs the flow's commands on the devices and services, and feeds
//! what happened back to `flow::step`.

mod consent;
pub(crate) mod offer;
mod preview;
mod receipt;

pub use consent::Consent;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kiosk_hal::{input::Key, Camera, Display, InputEvent, SpeechLanguage};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AppError;
use crate::{
    account::{issue_token, Claims, DemoAccount, KioskIdentity, LimitsPolicy, TokenId},
    flow::{self, ButtonId, Command, Event, FaceBox, Guidance, Language, Outcome, Refusal, Screen, UiOptions},
    identity::{self, PassportRead},
    store::{self, IssuedAccount, OnboardingRecord, PersonalData, Store},
    ui::{self, Layout},
    vision::{
        decode_image, ChallengeRules, ChallengeStatus, ChallengeTracker, Embedding, FaceOutcome, FacePipeline,
        BucketedGallery, MatchDecision, PoseSample, TurnDirection,
    },
    wiring::{self, Devices},
};

/// What the session decides with and writes to.
pub struct Services {
    pub config: kiosk_config::Config,
    pub pipeline: Arc<Mutex<FacePipeline>>,
    pub store: Store,
    pub identity: Arc<KioskIdentity>,
    pub limits: LimitsPolicy,
    pub consent: Consent,
    /// Rules of the social-payments offer; `None` when the offer is switched off.
    pub social: Option<kiosk_config::SocialRules>,
    /// Fonts, texts and the physical panel the screens are drawn for.
    pub ui: ui::UiContext<'static>,
    /// Every template enrolled on this kiosk, for the 1:N search; grows with each enrolment.
    pub gallery: BucketedGallery,
}

impl Services {
    /// The services of a kiosk around its store, identity key and loaded models: the gallery
    /// from the store, the limits, consent texts, social rules and screens from the configuration.
    pub fn new(
        config: kiosk_config::Config,
        store: Store,
        identity: Arc<KioskIdentity>,
        pipeline: FacePipeline,
    ) -> Result<Self, AppError> {
        Ok(Self {
            gallery: load_gallery(&store)?,
            pipeline: Arc::new(Mutex::new(pipeline)),
            store,
            identity,
            limits: wiring::limits_of(&config)?,
            consent: Consent::from_config(&config)?,
            social: wiring::social_rules(&config)?,
            ui: wiring::ui_context(&config)?,
            config,
        })
    }
}

/// Records the country of the document's signer, trusted or not, for `kiosk diag`'s check
/// that the trust store has a CSCA for every country seen.
fn record_country(data_dir: &std::path::Path, read: &Result<identity::PassportRead, identity::IdentityError>) {
    use identity::trust::countries_seen;
    let signer_issuer = match read {
        Ok(passport) => match &passport.authentication {
            identity::PassiveAuthentication::Passed { csca, .. } => Some(csca.clone()),
            identity::PassiveAuthentication::Failed(_) => None,
        },
        Err(identity::IdentityError::NotTrusted(identity::PaFailure::UnknownIssuer { issuer })) => Some(issuer.clone()),
        Err(_) => None,
    };
    if let Some(country) = signer_issuer.as_deref().and_then(countries_seen::country_in_name) {
        countries_seen::record(data_dir, &country);
    }
}

/// Loads every enrolled template from the store into the search gallery, each in the bucket of
/// its holder's birth date (at start-up).
pub fn load_gallery(store: &Store) -> Result<BucketedGallery, AppError> {
    let mut gallery = BucketedGallery::new();
    for (birth, values) in store.enrolled_faces()? {
        if let Some(template) = Embedding::from_values(values) {
            gallery.push(birth.as_ref(), &template);
        }
    }
    Ok(gallery)
}

/// One line of the session's story: a step, what it gave, how long it took.
#[derive(Debug, Clone)]
pub struct StepRecord {
    pub step: &'static str,
    pub result: String,
    pub duration: Duration,
}

/// How a session ended.
#[derive(Debug, Clone)]
pub struct SessionReport {
    pub outcome: Option<Outcome>,
    pub account_id: Option<Uuid>,
    pub activation_token: Option<String>,
    pub screens: Vec<&'static str>,
    /// The device whose fault ended the session (`card_reader`, `camera`): the kiosk is out of
    /// service until it answers again.
    pub device_fault: Option<&'static str>,
}

/// Personal and biometric data of the person at the kiosk: memory only, dropped (and zeroed by
/// the types that hold it) when the session records its outcome or ends.
#[derive(Default)]
struct SessionData {
    passport: Option<PassportRead>,
    document_face: Option<Embedding>,
    live_face: Option<Embedding>,
    liveness: Option<crate::vision::LivenessVerdict>,
    /// Scores and verdicts of the face checks, recorded with the outcome.
    face_checks: store::FaceChecks,
    issued: Option<IssuedAccount>,
}

/// Runs `f` on a blocking thread with `value` lent to it, and gives `value` back.
async fn off_thread<T, R>(
    mut value: T,
    f: impl FnOnce(&mut T) -> R + Send + 'static,
) -> Result<(T, R), AppError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let result = f(&mut value);
        (value, result)
    })
    .await
    .map_err(|e| AppError::io("device task", e))
}

pub struct Session<'a, D> {
    devices: Option<Devices<D>>,
    services: &'a mut Services,
    options: UiOptions,
    layout: Layout,
    /// The screen on display, for the keypad (its keys mean what that screen offers).
    shown: Option<Screen>,
    data: SessionData,
    /// The issued account (screen and receipt); not personal data, kept until the session ends.
    issued: Option<receipt::IssuedSummary>,
    /// Age and sex for the social-payments offer, kept after the personal data is wiped.
    offer: Option<offer::OfferContext>,
    /// Bursts in a row with nobody in front of the camera.
    empty_bursts: u32,
    started_at: OffsetDateTime,
    id: Uuid,
    report: SessionReport,
    on_step: &'a mut dyn FnMut(&StepRecord),
    /// Called at every turn of the session loop (at least every input timeout): what the
    /// service's liveness and watchdog follow, so a hung session stops them.
    progress: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl<'a, D: Display + 'static> Session<'a, D> {
    pub fn new(
        devices: Devices<D>,
        services: &'a mut Services,
        on_step: &'a mut dyn FnMut(&StepRecord),
    ) -> Self {
        Self {
            devices: Some(devices),
            services,
            options: UiOptions::default(),
            layout: Layout::default(),
            shown: None,
            data: SessionData::default(),
            issued: None,
            offer: None,
            empty_bursts: 0,
            started_at: OffsetDateTime::now_utc(),
            id: Uuid::now_v7(),
            report: SessionReport {
                outcome: None,
                account_id: None,
                activation_token: None,
                screens: Vec::new(),
                device_fault: None,
            },
            on_step,
            progress: None,
        }
    }

    /// Reports each turn of the session loop to `progress` (the service's liveness clock).
    pub fn with_progress(mut self, progress: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Runs the session to its end and gives the devices back.
    pub async fn run(mut self) -> Result<(SessionReport, Devices<D>), AppError> {
        let limits = wiring::flow_settings(&self.services.config, self.services.social.as_ref());
        let mut state = flow::State::new(Instant::now());
        let mut pending: Vec<Event> = Vec::new();
        self.perform(Command::Show(Screen::Welcome), &mut pending).await?;
        loop {
            if let Some(progress) = &self.progress {
                progress();
            }
            let event = match pending.pop() {
                Some(event) => event,
                None => self.wait_for_person().await?,
            };
            if state.phase == flow::Phase::Consent && state.consent_read && event == Event::Touched(ButtonId::Accept) {
                let consent = &self.services.consent;
                let result = format!(
                    "accepted after reading to the end, text version {} {:?} (sha256 {}…)",
                    consent.version,
                    self.options.language,
                    &hex::encode(consent.in_language(self.options.language).sha256)[..16]
                );
                self.log("consent", result, Instant::now());
            }
            let (next, commands) = flow::step(state, event, Instant::now(), &limits);
            state = next;
            // A declined consent records nothing, but the report still tells how it ended.
            if let flow::Phase::Refused(reason) = state.phase {
                self.report.outcome.get_or_insert(Outcome::Refused(reason));
            }
            let mut ended = false;
            for command in commands {
                ended |= command == Command::EndSession;
                self.perform(command, &mut pending).await?;
            }
            if ended {
                break;
            }
        }
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        Ok((self.report, devices))
    }

    fn devices(&mut self) -> Result<&mut Devices<D>, AppError> {
        self.devices.as_mut().ok_or_else(|| AppError::io("session", "devices lost"))
    }

    fn log(&mut self, step: &'static str, result: impl Into<String>, started: Instant) {
        self.log_took(step, result, started.elapsed());
    }

    fn log_took(&mut self, step: &'static str, result: impl Into<String>, duration: Duration) {
        let record = StepRecord { step, result: result.into(), duration };
        tracing::info!(session = %self.id, step, duration_ms = record.duration.as_millis() as u64, "step done");
        (self.on_step)(&record);
    }

    async fn wait_for_person(&mut self) -> Result<Event, AppError> {
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        let (devices, next) = off_thread(devices, |d| d.input.next_event(Duration::from_millis(200))).await?;
        self.devices = Some(devices);
        Ok(match next? {
            Some(InputEvent::Touch { x, y }) => match self.layout.hit(x, y) {
                Some(button) => Event::Touched(button),
                None => Event::Tick,
            },
            Some(InputEvent::Key(key)) => match self.key_press(key) {
                Some(button) => Event::Touched(button),
                None => Event::Tick,
            },
            None => Event::Tick,
        })
    }

    fn hush(&mut self) {
        if let Some(devices) = self.devices.as_mut() {
            if let Err(error) = devices.speaker.stop() {
                tracing::warn!(%error, "the speaker could not be stopped");
            }
        }
    }

    /// The button a keypad key stands for on the screen shown (only one it offers).
    fn key_press(&self, key: Key) -> Option<ButtonId> {
        let button = ui::button_for_key(self.shown.as_ref()?, key)?;
        self.layout.center_of(button).map(|_| button)
    }

    fn show(&mut self, screen: &Screen) -> Result<(), AppError> {
        let options = self.options;
        let id = screen_id(screen);
        let context = self.services.ui;
        let devices = self.devices()?;
        let layout = ui::render_with(&mut devices.display, screen, &options, &context)?;
        devices.display.present(id)?;
        if options.spoken {
            let language = match options.language {
                Language::Ru => SpeechLanguage::Ru,
                Language::En => SpeechLanguage::En,
            };
            // A silent kiosk still serves: a speaker fault is logged, the screen stays.
            if let Err(error) = devices.speaker.say(&ui::spoken_text(screen, options.language), language) {
                tracing::warn!(%error, screen = id, "spoken prompt failed");
            }
        }
        self.layout = layout;
        // The keypad needs what the screen offers, not the camera picture (no copy per frame).
        self.shown = Some(match screen {
            Screen::FaceCapture { guidance, face_box, .. } => {
                Screen::FaceCapture { guidance: *guidance, face_box: *face_box, preview: None }
            }
            other => other.clone(),
        });
        self.report.screens.push(id);
        Ok(())
    }

    async fn perform(&mut self, command: Command, pending: &mut Vec<Event>) -> Result<(), AppError> {
        match command {
            Command::Show(screen) => self.show(&screen)?,
            Command::SetOptions(options) => {
                if self.options.spoken && !options.spoken {
                    self.hush();
                }
                self.options = options;
            }
            Command::ShowConsent { page, can_accept } => {
                let consent = &self.services.consent;
                let text = consent.in_language(self.options.language).text.clone();
                self.show(&Screen::Consent { version: consent.version.clone(), text, page, can_accept })?;
                let pages = self.layout.pages.max(1);
                pending.push(Event::ConsentShown { page: page.min(pages - 1), pages });
            }
            Command::ReadDocument => pending.push(self.read_document().await?),
            Command::CaptureFace => pending.push(self.capture_face().await?),
            Command::RunChallenge => pending.push(self.run_challenge().await?),
            Command::CompareFaces => pending.push(self.compare_faces()?),
            Command::CheckDuplicate => pending.push(self.check_duplicate()?),
            Command::IssueAccount => pending.push(self.issue_account()?),
            Command::ShowAccount { receipt } => {
                let can_print = self.devices()?.printer.is_some();
                let summary = self.issued.as_ref().ok_or_else(|| AppError::io("session", "no account to show"))?;
                let screen = summary.screen(can_print, receipt);
                self.show(&screen)?;
            }
            Command::PrintReceipt => pending.push(self.print_receipt().await?),
            Command::ShowSocialOffer { step, categories } => {
                let (Some(rules), Some(person)) = (self.services.social.as_ref(), self.offer.as_ref()) else {
                    return Err(AppError::io("session", "social-payments offer without rules or account"));
                };
                let screen = offer::offer_screen(rules, person, step, categories, self.options.language);
                self.show(&screen)?;
            }
            Command::RecordSocialChoice { credit_to_account, categories } => {
                self.record_social_choice(credit_to_account, categories)?
            }
            Command::RecordOutcome(outcome) => self.record(outcome).await?,
            Command::EndSession => {
                // Nothing of the session may go on being said after it is wiped.
                self.hush();
                self.data = SessionData::default();
                self.issued = None;
                self.offer = None;
                self.shown = None;
            }
        }
        Ok(())
    }

    async fn read_document(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        let csca_dir = self.services.config.card_reader.csca_dir.clone();
        let (devices, read) =
            off_thread(devices, move |d| identity::read_trusted_passport(d.reader.as_mut(), &csca_dir)).await?;
        self.devices = Some(devices);
        record_country(&self.services.config.kiosk.data_dir, &read);
        let passport = match read {
            Ok(passport) => passport,
            // Not there yet: the flow looks again at its next tick (no step, nothing recorded).
            Err(error) if not_placed_yet(&error) => {
                tracing::debug!(session = %self.id, %error, "no document on the reader yet");
                return Ok(Event::NoDocument);
            }
            Err(error) => {
                let device_fault = is_device_fault(&error);
                self.log("document", format!("not read: {error}"), started);
                return Ok(if device_fault {
                    self.report.device_fault = Some("card_reader");
                    Event::DeviceFault
                } else {
                    // A document failing passive authentication is not trusted, not merely unreadable.
                    let trusted_but_unreadable = !matches!(error, identity::IdentityError::NotTrusted(_));
                    Event::DocumentFailed { trusted_but_unreadable }
                });
            }
        };
        self.log(
            "document",
            format!(
                "chip read over the serial line: DG1 + DG2 ({} bytes on the chip, face photo {} bytes, {:?})",
                passport.bytes_read,
                passport.face_image.bytes.len(),
                passport.face_image.format
            ),
            started,
        );
        let started = Instant::now();
        let photo = decode_image(&passport.face_image.bytes, "DG2 face photo")?;
        let pipeline = Arc::clone(&self.services.pipeline);
        let (_, analysed) = off_thread(photo, move |photo| {
            pipeline
                .lock()
                .map_err(|_| AppError::io("face pipeline", "poisoned lock"))?
                .analyse(photo)
                .map_err(AppError::from)
        })
        .await?;
        self.data.passport = Some(passport);
        match analysed? {
            FaceOutcome::Face(face) => {
                self.log(
                    "document face",
                    format!("face found in the DG2 photo (score {:.2})", face.detection.score),
                    started,
                );
                self.data.document_face = Some(face.embedding);
                Ok(document_read(&self.data.passport, OffsetDateTime::now_utc()))
            }
            _ => {
                self.log("document face", "no usable face in the DG2 photo", started);
                Ok(Event::DocumentFailed { trusted_but_unreadable: true })
            }
        }
    }

    async fn capture_face(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        self.data.face_checks.attempts += 1;
        let burst = self.services.config.camera.burst_frames.max(1) as usize;
        let spec = self.preview_spec()?;
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        let pipeline = Arc::clone(&self.services.pipeline);
        // Frames stay on the blocking thread and die there: only their analysis (and a
        // screen-sized preview) comes back.
        let (devices, captured) =
            off_thread(devices, move |devices| best_of_burst(devices.camera.as_mut(), &pipeline, burst, spec))
                .await?;
        self.devices = Some(devices);
        let capture = match captured {
            Ok(capture) => capture,
            Err(AppError::Camera(error)) => {
                self.log("face capture", format!("camera fault: {error}"), started);
                self.report.device_fault = Some("camera");
                return Ok(Event::DeviceFault);
            }
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
            return Err(AppError::io("face capture", "analysis missing for the best frame"));
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
        Ok(Event::FaceCaptured)
    }

    /// Active liveness: asks for a head turn to a random side and follows it frame by frame.
    async fn run_challenge(&mut self) -> Result<Event, AppError> {
        let direction = if rand::random::<bool>() { TurnDirection::Left } else { TurnDirection::Right };
        let guidance = match direction {
            TurnDirection::Left => Guidance::TurnLeft,
            TurnDirection::Right => Guidance::TurnRight,
        };
        self.show(&Screen::FaceCapture { guidance: Some(guidance), face_box: None, preview: None })?;
        let rules = wiring::challenge_rules(&self.services.config.face.challenge);
        let started = Instant::now();
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        let pipeline = Arc::clone(&self.services.pipeline);
        let (devices, followed) =
            off_thread(devices, move |d| follow_challenge(d.camera.as_mut(), &pipeline, direction, rules)).await?;
        self.devices = Some(devices);
        let (status, frames, peak) = match followed {
            Ok(result) => result,
            Err(AppError::Camera(error)) => {
                self.log("challenge", format!("camera fault: {error}"), started);
                self.report.device_fault = Some("camera");
                return Ok(Event::DeviceFault);
            }
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

    fn compare_faces(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let document_face = self.data.document_face.as_ref().ok_or_else(|| AppError::io("session", "no document face"))?;
        let live_face = self.data.live_face.as_ref().ok_or_else(|| AppError::io("session", "no live face"))?;
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

    /// The exact check first (the same document, or the same holder on another document: keyed
    /// hashes, no biometrics), then the face among the enrolments of the same birth date at
    /// `face.duplicate_threshold` (docs/FACE-MATCHING.md). The kind found is recorded.
    fn check_duplicate(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let keys = self.enrolment_keys();
        let exact = match &keys {
            Some(keys) => self.services.store.enrolled_as(keys)?,
            None => None,
        };
        let live = self.data.live_face.as_ref().ok_or_else(|| AppError::io("session", "no live face"))?;
        let threshold = self.services.config.face.duplicate_threshold;
        let (kind, detail) = match exact {
            Some(kind) => (Some(kind), format!("{}: an earlier enrolment of this {}", kind.code(), if kind == store::DuplicateKind::Document { "document" } else { "holder (name and birth date)" })),
            None => {
                let found = self.services.gallery.search(keys.as_ref().map(|k| &k.birth), live);
                self.data.face_checks.duplicate_best_score = found.best;
                let face = found.best.is_some_and(|score| score >= threshold);
                let best = found.best.map_or("none".to_string(), |score| format!("{score:.3}"));
                let detail = format!(
                    "no exact match; {} of {} enrolled template(s) share the birth date, best cosine {best} vs {threshold:.3}",
                    found.searched,
                    self.services.gallery.len(),
                );
                (face.then_some(store::DuplicateKind::Face), detail)
            }
        };
        self.data.face_checks.duplicate_kind = kind.map(store::DuplicateKind::code);
        let verdict = if kind.is_some() { "ALREADY ENROLLED" } else { "new person" };
        self.log("1:N search", format!("{detail}: {verdict}"), started);
        Ok(Event::DuplicateChecked { already_enrolled: kind.is_some() })
    }

    /// The keyed look-up hashes of the document read in this session.
    fn enrolment_keys(&self) -> Option<store::EnrolmentKeys> {
        let mrz = &self.data.passport.as_ref()?.mrz;
        let key = self.services.store.lookup_key();
        Some(key.enrolment(&mrz.issuing_state, &mrz.document_number, &mrz.surname, &mrz.given_names, &mrz.birth_date))
    }

    fn issue_account(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let now = OffsetDateTime::now_utc();
        let account = DemoAccount::issue(self.services.limits.clone(), now);
        let ttl = Duration::from_secs(u64::from(self.services.config.account.activation_ttl_minutes) * 60);
        let ttl = time::Duration::try_from(ttl).map_err(|e| AppError::io("activation ttl", e))?;
        let claims = Claims::for_account(&account, &self.services.config.kiosk.id, now, ttl);
        let token = issue_token(self.services.identity.signing_key(), &claims);
        let token_id: TokenId = claims.token_id;
        let limits = &self.services.limits;
        let expires = claims.expires_at.to_offset(crate::account::MOSCOW_OFFSET);
        let summary = receipt::IssuedSummary {
            reference: account.id.simple().to_string()[24..].to_uppercase(),
            per_transaction_limit_rub: limits.per_transaction_limit().0 / 100,
            daily_limit_rub: limits.daily_limit().0 / 100,
            monthly_limit_rub: limits.monthly_limit().0 / 100,
            activation_token: token.clone(),
            expires_at: format!("{:02}:{:02}", expires.hour(), expires.minute()),
        };
        self.log(
            "account",
            format!(
                "demo account {} issued: ≤ {} per transaction, ≤ {} a day, ≤ {} a month; activation token {} chars, Ed25519-signed",
                account.id,
                limits.per_transaction_limit(),
                limits.daily_limit(),
                limits.monthly_limit(),
                token.len()
            ),
            started,
        );
        self.report.account_id = Some(account.id);
        self.report.activation_token = Some(token);
        self.data.issued = Some(IssuedAccount { account, token_id });
        self.issued = Some(summary);
        Ok(Event::AccountIssued)
    }

    async fn record(&mut self, outcome: Outcome) -> Result<(), AppError> {
        let started = Instant::now();
        let consent = &self.services.consent;
        let enrolment_keys = self.enrolment_keys();
        let data = std::mem::take(&mut self.data);
        let issued = matches!(outcome, Outcome::AccountIssued);
        let now = OffsetDateTime::now_utc();
        if let (true, Some(passport), Some(account)) = (issued, data.passport.as_ref(), data.issued.as_ref()) {
            let today = now.to_offset(crate::account::MOSCOW_OFFSET).date();
            self.offer = Some(offer::OfferContext {
                account_id: account.account.id,
                age: crate::benefits::age_on(&passport.mrz.birth_date, today),
                sex: crate::benefits::Sex::from_mrz(passport.mrz.sex),
            });
        }
        let record = OnboardingRecord {
            id: self.id,
            started_at: self.started_at,
            finished_at: now,
            consent_version: consent.version.clone(),
            consent_sha256: consent.in_language(self.options.language).sha256,
            outcome: match outcome {
                Outcome::AccountIssued => store::Outcome::AccountIssued,
                Outcome::Refused(reason) => store::Outcome::Refused(refusal_code(reason).into()),
                Outcome::WalkedAway => store::Outcome::Refused(WALKED_AWAY.into()),
            },
            personal: if issued { data.passport.as_ref().map(personal_data) } else { None },
            account: if issued { data.issued.clone() } else { None },
            face_template: if issued { data.live_face.as_ref().map(|e| e.as_slice().to_vec()) } else { None },
            face_checks: (data.face_checks.attempts > 0).then(|| data.face_checks.clone()),
            enrolment_keys: if issued { enrolment_keys } else { None },
        };
        self.services.store.record_onboarding(&record)?;
        if let (true, Some(template)) = (issued, data.live_face.as_ref()) {
            self.services.gallery.push(enrolment_keys.as_ref().map(|k| &k.birth), template);
        }
        self.report.outcome = Some(outcome);
        self.log(
            "record",
            match outcome {
                Outcome::AccountIssued => "onboarding stored in one transaction: sealed personal data and template, account, outbox, audit".to_string(),
                Outcome::Refused(reason) => format!("refusal stored ({}), no account, no personal data kept", refusal_code(reason)),
                Outcome::WalkedAway => format!("the person walked away: {WALKED_AWAY} stored, session wiped"),
            },
            started,
        );
        Ok(())
    }

    async fn print_receipt(&mut self) -> Result<Event, AppError> {
        let started = Instant::now();
        let summary = self.issued.as_ref().ok_or_else(|| AppError::io("session", "no account to print"))?;
        let receipt = summary.receipt(&self.services.config.kiosk.id, self.options.language, OffsetDateTime::now_utc());
        let devices = self.devices.take().ok_or_else(|| AppError::io("session", "devices lost"))?;
        let (devices, printed) = off_thread(devices, move |d| match d.printer.as_mut() {
            Some(printer) => printer.print(&receipt).map_err(|e| e.to_string()),
            None => Err("no printer configured".to_string()),
        })
        .await?;
        self.devices = Some(devices);
        let ok = printed.is_ok();
        // The printer is not needed to serve: its fault is told to the person and to diag.
        self.log("receipt", printed.map_or_else(|e| format!("NOT printed: {e}"), |()| "printed".into()), started);
        Ok(Event::ReceiptPrinted { ok })
    }

    fn record_social_choice(&mut self, credit_to_account: bool, categories: flow::CategoryBits) -> Result<(), AppError> {
        let started = Instant::now();
        let (Some(rules), Some(person)) = (self.services.social.as_ref(), self.offer.as_ref()) else {
            return Err(AppError::io("session", "social-payments answer without rules or account"));
        };
        let choice = offer::choice(rules, person, categories, credit_to_account, OffsetDateTime::now_utc());
        let kinds = choice.kinds_offered.len();
        self.services.store.record_social_payments_choice(&choice)?;
        self.log(
            "social payments",
            if credit_to_account {
                format!("the person asked to have payments credited ({kinds} kind(s) listed): stored sealed, queued for the core")
            } else {
                "the person declined: stored, nothing requested".to_string()
            },
            started,
        );
        Ok(())
    }
}

/// Reason code of a session the person left after consenting, before the account.
const WALKED_AWAY: &str = "walked_away";

/// What the document rules need from DG1, on the visit's (Moscow) date: whether the document
/// has expired and the holder's whole years (the flow refuses on them).
fn document_read(passport: &Option<identity::PassportRead>, now: OffsetDateTime) -> Event {
    let today = now.to_offset(crate::account::MOSCOW_OFFSET).date();
    let Some(passport) = passport else { return Event::DocumentRead { expired: true, age_years: None } };
    Event::DocumentRead {
        expired: identity::mrz::expired_on(&passport.mrz.expiry_date, today),
        age_years: crate::benefits::age_on(&passport.mrz.birth_date, today).and_then(|a| u16::try_from(a).ok()),
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
    let mut pipeline = pipeline.lock().map_err(|_| AppError::io("face pipeline", "poisoned lock"))?;
    let mut best: Option<(opencv::core::Mat, crate::vision::FaceCandidate)> = None;
    let mut last_frame = None;
    let mut frame_size = (0, 0);
    for _ in 0..burst {
        let frame = camera.capture()?;
        frame_size = (
            opencv::prelude::MatTraitConst::cols(&frame.image),
            opencv::prelude::MatTraitConst::rows(&frame.image),
        );
        if let Some(candidate) = pipeline.candidate(&frame.image)? {
            let better = best.as_ref().is_none_or(|(_, b)| candidate.quality.rank() > b.quality.rank());
            if better {
                best = Some((frame.image, candidate));
                continue;
            }
        }
        last_frame = Some(frame.image);
    }
    let shown = best.as_ref().map(|(image, _)| image).or(last_frame.as_ref());
    let preview = shown.map(|image| preview::preview_of(image, preview.fit, preview.redact)).transpose()?;
    let Some((image, candidate)) = best else {
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

/// Captures frames until the challenge is decided (its time limit bounds the loop).
pub fn follow_challenge(
    camera: &mut dyn Camera,
    pipeline: &Mutex<FacePipeline>,
    direction: TurnDirection,
    rules: ChallengeRules,
) -> Result<(ChallengeStatus, usize, f32), AppError> {
    let mut pipeline = pipeline.lock().map_err(|_| AppError::io("face pipeline", "poisoned lock"))?;
    let mut tracker = ChallengeTracker::new(direction, rules);
    let started = Instant::now();
    let mut frames = 0;
    loop {
        let frame = camera.capture()?;
        frames += 1;
        let faces = pipeline.detector().detect(&frame.image)?;
        let sample = faces
            .iter()
            .max_by(|a, b| a.width().total_cmp(&b.width()))
            .and_then(|face| {
                let pose = crate::vision::quality::head_pose(&face.landmarks)?;
                let [eye_r, eye_l, ..] = face.landmarks;
                Some(PoseSample {
                    yaw: pose.yaw,
                    centre: [face.bbox[0] + face.bbox[2] / 2.0, face.bbox[1] + face.bbox[3] / 2.0],
                    inter_eye: (eye_l[0] - eye_r[0]).hypot(eye_l[1] - eye_r[1]),
                })
            });
        let status = tracker.observe(started.elapsed(), sample);
        if !matches!(status, ChallengeStatus::InProgress { .. }) {
            return Ok((status, frames, tracker.peak_yaw()));
        }
    }
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

/// Nothing to read yet: no MRZ on the window, no chip in the field, or the reader was just
/// plugged back in (the driver has re-initialised it): the person is still placing the passport.
fn not_placed_yet(error: &identity::IdentityError) -> bool {
    use kiosk_hal::card_reader::DeviceErrorKind as K;
    match error {
        identity::IdentityError::NoDocument => true,
        identity::IdentityError::Reader(kiosk_hal::CardReaderError::Reconnected) => true,
        identity::IdentityError::Reader(kiosk_hal::CardReaderError::Device { kind, .. }) => {
            matches!(kind, K::NoDocument | K::ContactlessNoCard)
        }
        _ => false,
    }
}

/// A reader that stopped answering puts the kiosk out of service; a document problem does not.
fn is_device_fault(error: &identity::IdentityError) -> bool {
    use kiosk_hal::CardReaderError as E;
    match error {
        identity::IdentityError::Reader(reader) => match reader {
            E::Device { kind, .. } => !matches!(
                kind,
                kiosk_hal::card_reader::DeviceErrorKind::NoCard
                    | kiosk_hal::card_reader::DeviceErrorKind::NoDocument
                    | kiosk_hal::card_reader::DeviceErrorKind::ContactlessNoCard
                    | kiosk_hal::card_reader::DeviceErrorKind::ContactlessCommunication
                    | kiosk_hal::card_reader::DeviceErrorKind::ChipCommunication
            ),
            // Unplugged and already reopened: the person may simply try again.
            E::Reconnected => false,
            _ => true,
        },
        // The kiosk's own trust store is broken: out of service until fixed.
        identity::IdentityError::TrustStore(_) => true,
        _ => false,
    }
}

fn personal_data(passport: &PassportRead) -> PersonalData {
    let mrz = &passport.mrz;
    PersonalData {
        surname: mrz.surname.clone(),
        given_names: mrz.given_names.clone(),
        document_number: mrz.document_number.clone(),
        nationality: mrz.nationality.clone(),
        birth_date: mrz.birth_date.to_string(),
        expiry_date: mrz.expiry_date.to_string(),
    }
}

/// Stable, non-personal reason codes for storage and sync.
pub fn refusal_code(reason: Refusal) -> &'static str {
    match reason {
        Refusal::ConsentDeclined => "consent_declined",
        Refusal::DocumentUnreadable => "document_unreadable",
        Refusal::DocumentNotTrusted => "document_not_trusted",
        Refusal::DocumentExpired => "document_expired",
        Refusal::Underage { .. } => "underage",
        Refusal::NoFaceFound => "no_face_found",
        Refusal::FaceMismatch => "face_mismatch",
        Refusal::LivenessFailed => "liveness_failed",
        Refusal::AlreadyEnrolled => "already_enrolled",
        Refusal::Timeout => "timeout",
        Refusal::Cancelled => "cancelled",
    }
}

fn screen_id(screen: &Screen) -> &'static str {
    match screen {
        Screen::Welcome => "welcome",
        Screen::Consent { .. } => "consent",
        Screen::PlaceDocument => "place-document",
        Screen::ReadingDocument => "reading-document",
        Screen::FaceCapture { guidance: Some(Guidance::TurnLeft), .. } => "face-capture-turn-left",
        Screen::FaceCapture { guidance: Some(Guidance::TurnRight), .. } => "face-capture-turn-right",
        Screen::FaceCapture { .. } => "face-capture",
        Screen::Verifying => "verifying",
        Screen::AccountIssued { .. } => "account-issued",
        Screen::Refused { .. } => "refused",
        Screen::OutOfService => "out-of-service",
        Screen::SocialPayments { .. } => "social-payments",
        Screen::Goodbye { .. } => "goodbye",
    }
}
