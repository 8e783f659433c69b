use std::time::{Duration, Instant};

use super::keyed::{FieldState, MrzEdit, MrzField};
use super::screen::{ButtonId, Guidance, Language, MrzNotice, ReceiptStatus, Refusal, Screen, SocialStep, UiOptions};

use super::timing;

/// Where the onboarding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Attract screen: language and accessibility choice, "start".
    Welcome,
    Consent,
    /// The reader has no MRZ window: the person keys in the document number, birth date and
    /// expiry date, each with its check digit.
    KeyedMrz,
    Document,
    /// The exact duplicate check of the document just read (keyed hashes of the document and
    /// of the holder, no biometrics), before the camera.
    Screening,
    Face,
    /// Active liveness: the head-turn challenge.
    Challenge,
    /// Comparing the live face with the document photo.
    Matching,
    /// The face search for an earlier enrolment among those of the same birth date.
    Deciding,
    Issuing,
    /// The account is open: the activation QR code (and the receipt on request).
    Issued,
    /// The offer to have state social payments credited to the account: first what applies to
    /// the person (categories), then what may be due and the answer.
    SocialCategories,
    SocialOffer,
    Goodbye,
    Refused(Refusal),
    OutOfService,
    Finished,
}

impl Phase {
    /// Phases that wait for the person (not for a device); the walk-away timer runs in them.
    pub(super) fn waits_for_person(self) -> bool {
        matches!(
            self,
            Phase::Consent
                | Phase::KeyedMrz
                | Phase::Document
                | Phase::Face
                | Phase::Challenge
                | Phase::Issued
                | Phase::SocialCategories
                | Phase::SocialOffer
                | Phase::Goodbye
                | Phase::Refused(_)
        )
    }
}

/// Social-payment categories ticked by the person: bit `i` is category `i` of the rules file.
pub type CategoryBits = u16;

/// The whole state of one session: phase, timers and the person's choices. No personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub phase: Phase,
    /// When the current phase started (for its timeout).
    pub since: Instant,
    /// The last sign of the person: a touch, a key, a face in front of the camera.
    pub last_seen: Instant,
    /// Face captures tried so far in this session.
    pub face_attempts: u32,
    pub options: UiOptions,
    pub consent_page: u16,
    /// The person has reached the last page of the consent text.
    pub consent_read: bool,
    pub categories: CategoryBits,
    pub receipt: Option<ReceiptStatus>,
    pub social_payments_requested: bool,
    /// The reader found nothing on its window or antenna: look again at the next tick.
    pub awaiting_document: bool,
    /// The keyed-in MRZ's progress (field states only, never the characters).
    pub keyed: KeyedProgress,
}

/// Chip reads tried with a keyed-in MRZ before the session is refused: each refusal of the
/// access key by the chip sends the person back to check what they typed.
pub const MAX_KEYED_ATTEMPTS: u8 = 3;

/// Where the person is in keying in the MRZ: which field, how each stands, which keys are up.
/// `Copy`, no personal data: the characters are the shell's ([`super::MrzEntry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyedProgress {
    /// The reader has no MRZ window: the document is read with the keyed-in fields.
    pub in_use: bool,
    pub active: MrzFieldSlot,
    pub states: [FieldState; 3],
    /// The letter keys are shown (document number only), at this page ("more" counts up; the
    /// screen wraps it to the pages its panel needs); `None`: the digit keys.
    pub letters: Option<u8>,
    pub notice: Option<MrzNotice>,
    /// Chip reads refused with the keyed fields so far.
    pub refused_reads: u8,
}

/// The active field, with a default (the document number) so the progress can be `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MrzFieldSlot(pub MrzField);

impl Default for MrzFieldSlot {
    fn default() -> Self {
        Self(MrzField::DocumentNumber)
    }
}

impl State {
    pub fn new(now: Instant) -> Self {
        Self {
            phase: Phase::Welcome,
            since: now,
            last_seen: now,
            face_attempts: 0,
            options: UiOptions::default(),
            consent_page: 0,
            consent_read: false,
            categories: 0,
            receipt: None,
            social_payments_requested: false,
            awaiting_document: false,
            keyed: KeyedProgress::default(),
        }
    }

    pub(super) fn enter(self, phase: Phase, now: Instant) -> Self {
        Self { phase, since: now, ..self }
    }

    /// The person did something (touched, looked at the camera): the walk-away timer restarts.
    fn seen(self, now: Instant) -> Self {
        Self { last_seen: now, ..self }
    }
}

/// What the flow is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowSettings {
    /// No touch and no face for this long: the person walked away, the session is wiped.
    pub walk_away: Duration,
    /// A device step (chip read, face comparison, issuing) taking longer than this ends the session.
    pub device: Duration,
    /// The goodbye screen returns to the attract screen after this long.
    pub goodbye: Duration,
    pub max_face_attempts: u32,
    /// Youngest holder an account is opened for (`account.min_age`).
    pub min_age: u8,
    /// Offer social payments after the account (rules configured and enabled).
    pub social_payments: bool,
    /// Number of social-payment categories in the rules (higher `Category(i)` touches are ignored).
    pub social_categories: u8,
}

/// What happened, reported by the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Touched(ButtonId),
    /// A consent page was drawn; `pages` is how many the text has at this size.
    ConsentShown {
        page: u16,
        pages: u16,
    },
    /// The chip was read and trusted; what the document rules need from it, worked out by the
    /// shell from DG1 on the visit's date.
    DocumentRead {
        /// The expiry date has passed, or is not a valid date.
        expired: bool,
        /// Whole years of age; `None` when the birth date is unknown or invalid.
        age_years: Option<u16>,
    },
    /// Nothing on the reader's window or antenna yet (or the reader was just plugged back in):
    /// the person is still placing the passport.
    NoDocument,
    /// The reader has no MRZ window (it answered the scan "unknown command"): the MRZ is keyed in.
    NoMrzWindow,
    /// The shell applied [`Command::EditMrz`]; the field's state after it (`done`: the person
    /// said the field is complete).
    MrzEdited {
        field: MrzField,
        state: FieldState,
        done: bool,
    },
    /// The chip refused the access key made of the keyed-in fields (BAC or PACE): a typing
    /// mistake that still passed the check digits, or another document's data.
    KeyedMrzRefused,
    DocumentFailed {
        trusted_but_unreadable: bool,
    },
    /// A face passed the quality gates and passive liveness.
    FaceCaptured,
    /// No usable face in the burst; `someone_there` when a face was seen but failed a gate
    /// (too far, turned away, two people) rather than nobody in front of the camera.
    FaceNotFound {
        someone_there: bool,
    },
    /// The best face of the burst was judged a presentation attack (photo, screen, mask).
    LivenessFailed,
    /// The head-turn challenge was done as asked.
    ChallengePassed,
    /// The head did not turn as asked (a photo, a replayed clip, a swapped picture, no reaction).
    ChallengeFailed,
    /// The live face was compared with the document photo.
    FaceCompared {
        same_person: bool,
    },
    /// The exact check found (or not) an earlier enrolment of this document or of its holder
    /// (name and birth date).
    ExactDuplicateChecked {
        already_enrolled: bool,
    },
    /// The face search found (or not) an earlier enrolment of this face.
    DuplicateChecked {
        already_enrolled: bool,
    },
    AccountIssued,
    ReceiptPrinted {
        ok: bool,
    },
    DeviceFault,
    Tick,
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Show(Screen),
    /// The person changed language or accessibility: use these options from now on.
    SetOptions(UiOptions),
    /// Show a page of the configured consent text (the shell holds it, with version and hash)
    /// and report [`Event::ConsentShown`].
    ShowConsent {
        page: u16,
        can_accept: bool,
    },
    /// Read the document: with the scanned MRZ, or with the keyed-in fields once they were
    /// keyed in (the shell holds them).
    ReadDocument,
    /// Show the keyed-in MRZ entry (the shell holds the characters).
    ShowMrzEntry {
        active: MrzField,
        states: [FieldState; 3],
        letters: Option<u8>,
        notice: Option<MrzNotice>,
    },
    /// Apply a key to the keyed-in field and report [`Event::MrzEdited`].
    EditMrz {
        field: MrzField,
        edit: MrzEdit,
    },
    /// Look the document read and its holder up among earlier enrolments (keyed hashes, no
    /// biometrics) and report [`Event::ExactDuplicateChecked`].
    CheckExactDuplicate,
    CaptureFace,
    /// Ask for a head turn in a random direction and follow it (active liveness).
    RunChallenge,
    /// Compare the captured face with the document photo.
    CompareFaces,
    /// Search the live face among earlier enrolments of the same birth date.
    CheckDuplicate,
    IssueAccount,
    /// Show the issued account's QR code (the shell holds the account), with the receipt status.
    ShowAccount {
        receipt: Option<ReceiptStatus>,
    },
    PrintReceipt,
    /// Show a step of the social-payments offer for these ticked categories (the shell knows
    /// the age).
    ShowSocialOffer {
        step: SocialStep,
        categories: CategoryBits,
    },
    /// Persist the person's explicit answer to the social-payments offer (and sync it).
    RecordSocialChoice {
        credit_to_account: bool,
        categories: CategoryBits,
    },
    /// Persist the outcome and wipe the session's personal data from memory.
    RecordOutcome(Outcome),
    EndSession,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    AccountIssued,
    Refused(Refusal),
    /// The person left mid-way (after consenting, before the account).
    WalkedAway,
}

/// The whole transition function.
pub fn step(state: State, event: Event, now: Instant, settings: &FlowSettings) -> (State, Vec<Command>) {
    if event == Event::DeviceFault {
        return (state.enter(Phase::OutOfService, now), vec![Command::Show(Screen::OutOfService), Command::EndSession]);
    }
    if event == Event::Tick {
        return timing::tick(state, now, settings);
    }
    let state = if shows_presence(event) { state.seen(now) } else { state };
    if let Event::Touched(button) = event {
        if let Some(done) = touched(state, button, now, settings) {
            return done;
        }
    }
    device_reply(state, event, now, settings)
}

fn shows_presence(event: Event) -> bool {
    matches!(
        event,
        Event::Touched(_)
            | Event::FaceCaptured
            | Event::FaceNotFound { someone_there: true }
            | Event::LivenessFailed
            | Event::ChallengePassed
            | Event::ChallengeFailed
    )
}

/// Touches; `None` when the touch means nothing in this phase.
fn touched(state: State, button: ButtonId, now: Instant, settings: &FlowSettings) -> Option<(State, Vec<Command>)> {
    use ButtonId as B;
    use Command::*;
    use Phase as P;

    Some(match (state.phase, button) {
        (P::Welcome, B::LanguageRu | B::LanguageEn | B::LargeText | B::HighContrast | B::Speech) => {
            let options = toggled(state.options, button);
            (State { options, ..state }, vec![SetOptions(options), Show(Screen::Welcome)])
        }
        (P::Welcome, B::Start) => {
            let next = State { consent_page: 0, consent_read: false, ..state.enter(P::Consent, now) };
            (next, vec![ShowConsent { page: 0, can_accept: false }])
        }
        (P::Consent, B::ScrollDown | B::ScrollUp) => {
            let page = if button == B::ScrollDown {
                state.consent_page.saturating_add(1)
            } else {
                state.consent_page.saturating_sub(1)
            };
            (state, vec![ShowConsent { page, can_accept: state.consent_read }])
        }
        (P::Consent, B::Accept) if state.consent_read => {
            (state.enter(P::Document, now), vec![Show(Screen::PlaceDocument), ReadDocument])
        }
        // Nothing was read yet: declining keeps nothing at all.
        (P::Consent, B::Decline | B::Cancel) => {
            let reason = Refusal::ConsentDeclined;
            (state.enter(P::Refused(reason), now), vec![Show(Screen::Refused { reason })])
        }
        (P::KeyedMrz | P::Document | P::Screening | P::Face | P::Challenge | P::Matching | P::Deciding, B::Cancel) => {
            refuse(state, Refusal::Cancelled, now)
        }
        (P::KeyedMrz, B::Char(c)) => {
            let field = state.keyed.active.0;
            (state, vec![EditMrz { field, edit: MrzEdit::Type(c) }])
        }
        (P::KeyedMrz, B::Backspace) => {
            (state, vec![EditMrz { field: state.keyed.active.0, edit: MrzEdit::Backspace }])
        }
        (P::KeyedMrz, B::Next) => (state, vec![EditMrz { field: state.keyed.active.0, edit: MrzEdit::Done }]),
        (P::KeyedMrz, B::Letters) if state.keyed.active.0.takes_letters() => {
            let letters = Some(state.keyed.letters.map_or(0, |page| page.wrapping_add(1)));
            keyed_screen(State { keyed: KeyedProgress { letters, ..state.keyed }, ..state })
        }
        (P::KeyedMrz, B::Digits) => keyed_screen(State { keyed: KeyedProgress { letters: None, ..state.keyed }, ..state }),
        (P::KeyedMrz, B::Back) => match state.keyed.active.0.previous() {
            Some(field) => to_field(state, field, None),
            None => return None,
        },
        (P::Issued, B::PrintReceipt) if state.receipt != Some(ReceiptStatus::Printed) => (state, vec![PrintReceipt]),
        (P::Issued, B::Next) if settings.social_payments => {
            let next = State { categories: 0, ..state.enter(P::SocialCategories, now) };
            (next, vec![ShowSocialOffer { step: SocialStep::Categories, categories: 0 }])
        }
        (P::Issued, B::Next) => goodbye(state, now),
        (P::SocialCategories, B::Category(i)) if i < settings.social_categories.min(16) => {
            let categories = state.categories ^ (1 << i);
            (State { categories, ..state }, vec![ShowSocialOffer { step: SocialStep::Categories, categories }])
        }
        (P::SocialCategories, B::Next) => (
            state.enter(P::SocialOffer, now),
            vec![ShowSocialOffer { step: SocialStep::Answer, categories: state.categories }],
        ),
        (P::SocialOffer, B::Back) => (
            state.enter(P::SocialCategories, now),
            vec![ShowSocialOffer { step: SocialStep::Categories, categories: state.categories }],
        ),
        (P::SocialOffer, B::CreditPayments) | (P::SocialOffer | P::SocialCategories, B::NoThanks) => {
            let credit_to_account = button == B::CreditPayments;
            let answered = State { social_payments_requested: credit_to_account, ..state };
            let (next, mut commands) = goodbye(answered, now);
            commands.insert(0, RecordSocialChoice { credit_to_account, categories: state.categories });
            (next, commands)
        }
        // Cancel is not an answer: nothing is claimed without an explicit choice.
        (P::SocialCategories | P::SocialOffer, B::Cancel) => goodbye(state, now),
        (P::Goodbye | P::Refused(_), B::Finish | B::Cancel) => finish(now),
        _ => return None,
    })
}

/// The options after a touch of one of the attract screen's choices.
pub fn toggled(mut options: UiOptions, button: ButtonId) -> UiOptions {
    match button {
        ButtonId::LanguageRu => options.language = Language::Ru,
        ButtonId::LanguageEn => options.language = Language::En,
        ButtonId::LargeText => options.large_text = !options.large_text,
        ButtonId::HighContrast => options.high_contrast = !options.high_contrast,
        ButtonId::Speech => options.spoken = !options.spoken,
        _ => {}
    }
    options
}

/// What the devices and services reported.
fn device_reply(state: State, event: Event, now: Instant, settings: &FlowSettings) -> (State, Vec<Command>) {
    use Command::*;
    use Phase as P;

    match (state.phase, event) {
        (P::Consent, Event::ConsentShown { page, pages }) => {
            let last = page.saturating_add(1) >= pages;
            let next = State { consent_page: page, consent_read: state.consent_read || last, ..state };
            // Reaching the end for the first time unlocks "accept": redraw with it.
            let commands =
                if next.consent_read && !state.consent_read { vec![ShowConsent { page, can_accept: true }] } else { vec![] };
            (next, commands)
        }
        // Polled again at the next tick, until the device-step timeout or the walk-away time.
        (P::Document, Event::NoDocument) => (State { awaiting_document: true, ..state }, Vec::new()),
        // No window to scan the MRZ: the person keys it in (the fields' states start afresh).
        (P::Document, Event::NoMrzWindow) if !state.keyed.in_use => {
            let keyed = KeyedProgress { in_use: true, ..KeyedProgress::default() };
            keyed_screen(State { keyed, awaiting_document: false, ..state.enter(P::KeyedMrz, now).seen(now) })
        }
        (P::KeyedMrz, Event::MrzEdited { field, state: field_state, done }) if field == state.keyed.active.0 => {
            let mut keyed = state.keyed;
            keyed.states[field.index()] = field_state;
            keyed.notice = None;
            let edited = State { keyed, ..state };
            match (field_state, done, field.next()) {
                // Complete and right: on to the next field (at once when it filled the field).
                (FieldState::Valid, _, Some(next)) => to_field(edited, next, None),
                (FieldState::Valid, true, None) if keyed.states.iter().all(|s| *s == FieldState::Valid) => {
                    let reading = State { awaiting_document: false, ..edited.enter(P::Document, now) };
                    (reading, vec![Show(Screen::PlaceDocument), ReadDocument])
                }
                (_, true, _) => {
                    let keyed = KeyedProgress { notice: Some(MrzNotice::CheckField), ..keyed };
                    keyed_screen(State { keyed, ..edited })
                }
                _ => keyed_screen(edited),
            }
        }
        // The check digits were right but the chip did not take the key: check what was typed,
        // a limited number of times.
        (P::Document, Event::KeyedMrzRefused) if state.keyed.in_use => {
            let refused_reads = state.keyed.refused_reads.saturating_add(1);
            if refused_reads >= MAX_KEYED_ATTEMPTS {
                return refuse(state, Refusal::KeyedMrzRefused, now);
            }
            let attempts_left = MAX_KEYED_ATTEMPTS - refused_reads;
            let keyed = KeyedProgress { refused_reads, ..state.keyed };
            let back = State { keyed, ..state.enter(P::KeyedMrz, now) };
            to_field(back, MrzField::DocumentNumber, Some(MrzNotice::ChipRefused { attempts_left }))
        }
        // The document rules before any biometrics: an expired document, then the holder's age.
        (P::Document, Event::DocumentRead { expired: true, .. }) => refuse(state, Refusal::DocumentExpired, now),
        (P::Document, Event::DocumentRead { age_years, .. })
            if age_years.is_none_or(|age| age < u16::from(settings.min_age)) =>
        {
            refuse(state, Refusal::Underage { min_age: settings.min_age }, now)
        }
        // The same document or holder enrolled before is refused without biometrics.
        (P::Document, Event::DocumentRead { .. }) => {
            (State { awaiting_document: false, ..state.enter(P::Screening, now) }, vec![CheckExactDuplicate])
        }
        (P::Screening, Event::ExactDuplicateChecked { already_enrolled: true }) => {
            refuse(state, Refusal::AlreadyEnrolled, now)
        }
        (P::Screening, Event::ExactDuplicateChecked { already_enrolled: false }) => (
            State { face_attempts: 1, ..state.enter(P::Face, now).seen(now) },
            vec![Show(Screen::FaceCapture { guidance: None, face_box: None, preview: None }), CaptureFace],
        ),
        (P::Document, Event::DocumentFailed { trusted_but_unreadable }) => {
            let reason =
                if trusted_but_unreadable { Refusal::DocumentUnreadable } else { Refusal::DocumentNotTrusted };
            refuse(state, reason, now)
        }
        (P::Face, Event::FaceCaptured) => (state.enter(P::Challenge, now), vec![RunChallenge]),
        // Nobody in front of the camera is no failed attempt: look again until the walk-away time.
        (P::Face, Event::FaceNotFound { someone_there: false }) => match timing::walked_away(state, now, settings) {
            Some(gone) => gone,
            None => (state, vec![CaptureFace]),
        },
        (P::Challenge, Event::ChallengePassed) => {
            (state.enter(P::Matching, now), vec![Show(Screen::Verifying), CompareFaces])
        }
        (P::Matching, Event::FaceCompared { same_person: true }) => (state.enter(P::Deciding, now), vec![CheckDuplicate]),
        // A failed attempt is tried again from a new capture, up to the configured attempts.
        (P::Face, Event::FaceNotFound { .. } | Event::LivenessFailed)
        | (P::Challenge, Event::ChallengeFailed)
        | (P::Matching, Event::FaceCompared { same_person: false })
            if state.face_attempts < settings.max_face_attempts =>
        {
            let next = State { face_attempts: state.face_attempts + 1, ..state.enter(P::Face, now) };
            let look = Screen::FaceCapture { guidance: Some(Guidance::LookAtCamera), face_box: None, preview: None };
            (next, vec![Show(look), CaptureFace])
        }
        (P::Face, Event::FaceNotFound { .. }) => refuse(state, Refusal::NoFaceFound, now),
        (P::Face, Event::LivenessFailed) | (P::Challenge, Event::ChallengeFailed) => {
            refuse(state, Refusal::LivenessFailed, now)
        }
        (P::Matching, Event::FaceCompared { same_person: false }) => refuse(state, Refusal::FaceMismatch, now),
        (P::Deciding, Event::DuplicateChecked { already_enrolled: true }) => {
            refuse(state, Refusal::AlreadyEnrolled, now)
        }
        (P::Deciding, Event::DuplicateChecked { already_enrolled: false }) => {
            (state.enter(P::Issuing, now), vec![IssueAccount])
        }
        (P::Issuing, Event::AccountIssued) => (
            State { receipt: None, ..state.enter(P::Issued, now).seen(now) },
            vec![RecordOutcome(Outcome::AccountIssued), ShowAccount { receipt: None }],
        ),
        // A printer failure is told to the person; the account stands.
        (P::Issued, Event::ReceiptPrinted { ok }) => {
            let receipt = Some(if ok { ReceiptStatus::Printed } else { ReceiptStatus::Failed });
            (State { receipt, ..state }, vec![ShowAccount { receipt }])
        }
        // Anything else (a stray touch, a late device reply) changes nothing.
        _ => (state, Vec::new()),
    }
}

/// The entry screen as the progress stands.
fn keyed_screen(state: State) -> (State, Vec<Command>) {
    let k = state.keyed;
    let show = Command::ShowMrzEntry { active: k.active.0, states: k.states, letters: k.letters, notice: k.notice };
    (state, vec![show])
}

/// Moves the entry to `field` (the digit keys up), with `notice`.
fn to_field(state: State, field: MrzField, notice: Option<MrzNotice>) -> (State, Vec<Command>) {
    let keyed = KeyedProgress { active: MrzFieldSlot(field), letters: None, notice, ..state.keyed };
    keyed_screen(State { keyed, ..state })
}

pub(super) fn refuse(state: State, reason: Refusal, now: Instant) -> (State, Vec<Command>) {
    (
        state.enter(Phase::Refused(reason), now),
        vec![Command::RecordOutcome(Outcome::Refused(reason)), Command::Show(Screen::Refused { reason })],
    )
}

fn goodbye(state: State, now: Instant) -> (State, Vec<Command>) {
    let screen = Screen::Goodbye {
        receipt_printed: state.receipt == Some(ReceiptStatus::Printed),
        social_payments_requested: state.social_payments_requested,
    };
    (state.enter(Phase::Goodbye, now), vec![Command::Show(screen)])
}

/// Back to the attract screen with nothing of the person left on it or in memory.
pub(super) fn finish(now: Instant) -> (State, Vec<Command>) {
    let fresh = State { phase: Phase::Finished, ..State::new(now) };
    (fresh, vec![Command::Show(Screen::Welcome), Command::EndSession])
}
