//! One person's session: performs the flow's commands on the devices and services, and feeds
//! what happened back to `flow::step`.

mod consent;
mod document;
mod face;
mod issue;
pub(crate) mod offer;
mod preview;
mod receipt;
#[cfg(test)]
mod tests;

pub use consent::Consent;
pub use face::{follow_challenge, ChallengeOutcome};

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use kiosk_hal::{input::Key, Display, InputEvent, SpeechLanguage};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AppError;
use crate::{
    account::{KioskIdentity, LimitsPolicy},
    flow::{self, ButtonId, Command, Event, Guidance, KeyedField, Language, MrzEdit, MrzEntry, MrzField, Outcome, Refusal, Screen, UiOptions},
    identity::PassportRead,
    store::{self, IssuedAccount, Store},
    ui::{self, Layout},
    vision::{BucketedGallery, Embedding, FacePipeline},
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

/// Told of every screen the session presents (as the keypad sees it: no camera picture) and of
/// where its buttons are: the demo's person reads the screen through it.
pub type ScreenObserver = Arc<dyn Fn(&Screen, &Layout) + Send + Sync>;

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
    /// Where the head-turn challenge first looks for the face: around the capture's best face.
    challenge_window: Option<opencv::core::Rect>,
    liveness: Option<crate::vision::LivenessVerdict>,
    /// Scores and verdicts of the face checks, recorded with the outcome.
    face_checks: store::FaceChecks,
    issued: Option<IssuedAccount>,
    /// What the person keyed in on a reader without an MRZ window (wiped on drop).
    keyed: MrzEntry,
}

/// How long a chip read, a camera burst, a head-turn challenge, a print or a photo analysis
/// may take and still count as the session loop's progress: on a slow CPU (the emulated kiosk
/// under TCG) the face step alone outlasted the watchdog's 30 s. A task past this is hung, the
/// liveness goes stale and the watchdog restarts the service.
const BUSY_COUNTS_AS_ALIVE: Duration = Duration::from_secs(90);

/// Who to tell that the loop is still working, and for how long a task may count as such.
type Liveness = Option<(Arc<dyn Fn() + Send + Sync>, Duration)>;

/// Runs `f` on a blocking thread with `value` lent to it, and gives `value` back: device and
/// model work must not block the async thread the session loop turns on. While `f` runs,
/// `alive` is told once a second, for at most its allowance.
async fn off_thread<T, R>(
    mut value: T,
    alive: Liveness,
    f: impl FnOnce(&mut T) -> R + Send + 'static,
) -> Result<(T, R), AppError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let result = f(&mut value);
        (value, result)
    });
    // Nobody to tell (a touch poll has a zero allowance): no ticker, just the task.
    let Some((tell, allowance)) = alive.filter(|(_, allowance)| !allowance.is_zero()) else {
        return task.await.map_err(|e| AppError::task("device task", e));
    };
    tokio::pin!(task);
    let started = tokio::time::Instant::now();
    let mut beat = tokio::time::interval(Duration::from_secs(1));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            joined = &mut task => return joined.map_err(|e| AppError::task("device task", e)),
            _ = beat.tick() => {
                if started.elapsed() < allowance {
                    tell();
                }
            }
        }
    }
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
    observer: Option<ScreenObserver>,
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
            observer: None,
        }
    }

    /// Reports each turn of the session loop to `progress` (the service's liveness clock).
    pub fn with_progress(mut self, progress: Arc<dyn Fn() + Send + Sync>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Tells `observer` of each screen presented (a simulated person reads it: the demo only).
    #[cfg(feature = "demo")]
    pub fn with_screen_observer(mut self, observer: ScreenObserver) -> Self {
        self.observer = Some(observer);
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
        let devices = self.devices.take().ok_or_else(|| AppError::internal("session", "devices lost"))?;
        Ok((self.report, devices))
    }

    fn devices(&mut self) -> Result<&mut Devices<D>, AppError> {
        self.devices.as_mut().ok_or_else(|| AppError::internal("session", "devices lost"))
    }

    /// Device work off the async thread: the devices are taken, lent to `f` on a blocking
    /// thread, and put back (also when `f` fails: its result is returned as it is).
    async fn on_devices<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Devices<D>) -> R + Send + 'static,
    ) -> Result<R, AppError> {
        self.on_devices_within(BUSY_COUNTS_AS_ALIVE, f).await
    }

    /// [`Self::on_devices`] for a call that may count as progress for `allowance` at most
    /// (zero: a short poll, after which the loop turns and says so itself).
    async fn on_devices_within<R: Send + 'static>(
        &mut self,
        allowance: Duration,
        f: impl FnOnce(&mut Devices<D>) -> R + Send + 'static,
    ) -> Result<R, AppError> {
        let devices = self.devices.take().ok_or_else(|| AppError::internal("session", "devices lost"))?;
        let (devices, result) = off_thread(devices, self.busy(allowance), f).await?;
        self.devices = Some(devices);
        Ok(result)
    }

    fn busy(&self, allowance: Duration) -> Liveness {
        self.progress.as_ref().filter(|_| !allowance.is_zero()).map(|tell| (Arc::clone(tell), allowance))
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
        // A 200 ms poll: a driver that hangs in it must stop the loop's liveness at once.
        let next = self.on_devices_within(Duration::ZERO, |d| d.input.next_event(Duration::from_millis(200))).await?;
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
        if let (Some(observe), Some(shown)) = (&self.observer, &self.shown) {
            observe(shown, &self.layout);
        }
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
            Command::ShowMrzEntry { active, states, letters, notice } => {
                let fields = MrzField::ALL.map(|field| KeyedField { text: self.data.keyed.text(field), state: states[field.index()] });
                self.show(&Screen::MrzEntry { fields, active, letters, notice })?;
            }
            Command::EditMrz { field, edit } => {
                let state = self.data.keyed.apply(field, edit);
                pending.push(Event::MrzEdited { field, state, done: edit == MrzEdit::Done });
            }
            Command::CheckExactDuplicate => pending.push(self.check_exact_duplicate()?),
            Command::CaptureFace => pending.push(self.capture_face().await?),
            Command::RunChallenge => pending.push(self.run_challenge().await?),
            Command::CompareFaces => pending.push(self.compare_faces()?),
            Command::CheckDuplicate => pending.push(self.check_duplicate()?),
            Command::IssueAccount => pending.push(self.issue_account()?),
            Command::ShowAccount { receipt } => {
                let can_print = self.devices()?.printer.is_some();
                let summary = self.issued.as_ref().ok_or_else(|| AppError::internal("session", "no account to show"))?;
                let screen = summary.screen(can_print, receipt);
                self.show(&screen)?;
            }
            Command::PrintReceipt => pending.push(self.print_receipt().await?),
            Command::ShowSocialOffer { step, categories } => {
                let (Some(rules), Some(person)) = (self.services.social.as_ref(), self.offer.as_ref()) else {
                    return Err(AppError::internal("session", "social-payments offer without rules or account"));
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
}

/// Reason code of a session the person left after consenting, before the account.
pub(crate) const WALKED_AWAY: &str = "walked_away";

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
        Refusal::KeyedMrzRefused => "keyed_mrz_refused",
    }
}

pub(crate) fn screen_id(screen: &Screen) -> &'static str {
    match screen {
        Screen::Welcome => "welcome",
        Screen::Consent { .. } => "consent",
        Screen::PlaceDocument => "place-document",
        Screen::MrzEntry { .. } => "mrz-entry",
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
