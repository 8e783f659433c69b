use std::time::{Duration, Instant};

use crate::ui::{ButtonId, Refusal, Screen};

/// Where the onboarding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Welcome,
    Consent,
    Document,
    Face,
    /// Active liveness: the head-turn challenge.
    Challenge,
    /// Comparing the live face with the document photo.
    Matching,
    Deciding,
    Issuing,
    Issued,
    Refused(Refusal),
    OutOfService,
    Finished,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    pub phase: Phase,
    /// When the current phase started (for its timeout).
    pub since: Instant,
    /// Face captures tried so far in this session.
    pub face_attempts: u32,
}

impl State {
    pub fn new(now: Instant) -> Self {
        Self { phase: Phase::Welcome, since: now, face_attempts: 0 }
    }

    fn enter(self, phase: Phase, now: Instant) -> Self {
        Self { phase, since: now, ..self }
    }
}

/// How long each waiting phase may last before the session is ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTimeouts {
    pub person: Duration,
    pub device: Duration,
    pub max_face_attempts: u32,
}

/// What happened, reported by the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Touched(ButtonId),
    DocumentRead,
    DocumentFailed {
        trusted_but_unreadable: bool,
    },
    /// A face passed the quality gates and passive liveness.
    FaceCaptured,
    /// No usable face in the burst (none, failed quality gates, several people).
    FaceNotFound,
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
    DuplicateChecked {
        already_enrolled: bool,
    },
    AccountIssued {
        screen: Screen,
    },
    DeviceFault,
    Tick,
}

/// What the shell must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Show(Screen),
    /// Show the configured consent text (the shell holds it, with its version and hash).
    ShowConsent,
    ReadDocument,
    CaptureFace,
    /// Ask for a head turn in a random direction and follow it (active liveness).
    RunChallenge,
    /// Compare the captured face with the document photo.
    CompareFaces,
    CheckDuplicate,
    IssueAccount,
    /// Persist the outcome (refusals included) and wipe the session's personal data from memory.
    RecordOutcome(Outcome),
    EndSession,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    AccountIssued,
    Refused(Refusal),
}

/// The whole transition function.
pub fn step(state: State, event: Event, now: Instant, limits: &StepTimeouts) -> (State, Vec<Command>) {
    use Command::*;
    use Phase as P;

    if event == Event::DeviceFault {
        return (state.enter(P::OutOfService, now), vec![Show(Screen::OutOfService), EndSession]);
    }
    if event == Event::Tick {
        return tick(state, now, limits);
    }
    match (state.phase, event) {
        (P::Welcome, Event::Touched(ButtonId::Start)) => (state.enter(P::Consent, now), vec![ShowConsent]),
        (P::Consent, Event::Touched(ButtonId::Accept)) => {
            (state.enter(P::Document, now), vec![Show(Screen::PlaceDocument), ReadDocument])
        }
        (P::Consent, Event::Touched(ButtonId::Decline)) => refuse(state, Refusal::ConsentDeclined, now),
        (P::Document, Event::DocumentRead) => (
            State { face_attempts: 1, ..state.enter(P::Face, now) },
            vec![Show(Screen::FaceCapture { guidance: None, face_box: None, preview: None }), CaptureFace],
        ),
        (P::Document, Event::DocumentFailed { trusted_but_unreadable }) => {
            let reason = if trusted_but_unreadable {
                Refusal::DocumentUnreadable
            } else {
                Refusal::DocumentNotTrusted
            };
            refuse(state, reason, now)
        }
        (P::Face, Event::FaceCaptured) => (state.enter(P::Challenge, now), vec![RunChallenge]),
        (P::Challenge, Event::ChallengePassed) => {
            (state.enter(P::Matching, now), vec![Show(Screen::Verifying), CompareFaces])
        }
        (P::Matching, Event::FaceCompared { same_person: true }) => {
            (state.enter(P::Deciding, now), vec![CheckDuplicate])
        }
        // A failed attempt is tried again from a new capture, up to the configured attempts.
        (P::Face, Event::FaceNotFound | Event::LivenessFailed)
        | (P::Challenge, Event::ChallengeFailed)
        | (P::Matching, Event::FaceCompared { same_person: false })
            if state.face_attempts < limits.max_face_attempts =>
        {
            let next = State { face_attempts: state.face_attempts + 1, ..state.enter(P::Face, now) };
            (next, vec![CaptureFace])
        }
        (P::Face, Event::FaceNotFound) => refuse(state, Refusal::NoFaceFound, now),
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
        (P::Issuing, Event::AccountIssued { screen }) => {
            (state.enter(P::Issued, now), vec![RecordOutcome(Outcome::AccountIssued), Show(screen)])
        }
        (P::Issued | P::Refused(_), Event::Touched(ButtonId::Finish)) => {
            (state.enter(P::Finished, now), vec![Show(Screen::Welcome), EndSession])
        }
        (_, Event::Touched(ButtonId::Cancel)) if !matches!(state.phase, P::Issued | P::Finished) => {
            refuse(state, Refusal::ConsentDeclined, now)
        }
        // Anything else (a stray touch, a late device reply) changes nothing.
        _ => (state, Vec::new()),
    }
}

fn refuse(state: State, reason: Refusal, now: Instant) -> (State, Vec<Command>) {
    (
        state.enter(Phase::Refused(reason), now),
        vec![Command::RecordOutcome(Outcome::Refused(reason)), Command::Show(Screen::Refused { reason })],
    )
}

fn tick(state: State, now: Instant, limits: &StepTimeouts) -> (State, Vec<Command>) {
    let waited = now.saturating_duration_since(state.since);
    let allowed = match state.phase {
        Phase::Welcome | Phase::Finished | Phase::OutOfService => return (state, Vec::new()),
        Phase::Document | Phase::Face | Phase::Challenge | Phase::Matching | Phase::Deciding | Phase::Issuing => {
            limits.device
        }
        Phase::Consent | Phase::Issued | Phase::Refused(_) => limits.person,
    };
    if waited < allowed {
        return (state, Vec::new());
    }
    match state.phase {
        // Walk-away on a result screen: wipe it, back to the attract screen.
        Phase::Issued | Phase::Refused(_) => {
            (state.enter(Phase::Finished, now), vec![Command::Show(Screen::Welcome), Command::EndSession])
        }
        _ => refuse(state, Refusal::Timeout, now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: StepTimeouts = StepTimeouts {
        person: Duration::from_secs(45),
        device: Duration::from_secs(30),
        max_face_attempts: 3,
    };

    /// Drives `events` from a fresh state, one second apart; returns the final state and all commands.
    fn run(events: Vec<Event>) -> (State, Vec<Command>) {
        let start = Instant::now();
        let mut state = State::new(start);
        let mut all = Vec::new();
        for (i, event) in events.into_iter().enumerate() {
            let (next, commands) = step(state, event, start + Duration::from_secs(i as u64 + 1), &LIMITS);
            state = next;
            all.extend(commands);
        }
        (state, all)
    }

    fn happy_prefix() -> Vec<Event> {
        vec![Event::Touched(ButtonId::Start), Event::Touched(ButtonId::Accept), Event::DocumentRead]
    }

    #[test]
    fn happy_path_issues_and_records_once() {
        let mut events = happy_prefix();
        events.extend([
            Event::FaceCaptured,
            Event::ChallengePassed,
            Event::FaceCompared { same_person: true },
            Event::DuplicateChecked { already_enrolled: false },
            Event::AccountIssued { screen: Screen::Verifying },
            Event::Touched(ButtonId::Finish),
        ]);
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Finished);
        let recorded: Vec<_> = commands.iter().filter(|c| matches!(c, Command::RecordOutcome(_))).collect();
        assert_eq!(recorded, vec![&Command::RecordOutcome(Outcome::AccountIssued)]);
        assert!(commands.contains(&Command::IssueAccount));
        assert_eq!(commands.last(), Some(&Command::EndSession));
    }

    #[test]
    fn mismatch_is_retried_then_refused_without_issuing() {
        let mut events = happy_prefix();
        for _ in 0..3 {
            events.extend([Event::FaceCaptured, Event::ChallengePassed, Event::FaceCompared { same_person: false }]);
        }
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Refused(Refusal::FaceMismatch));
        assert_eq!(commands.iter().filter(|c| **c == Command::CaptureFace).count(), 3);
        assert_eq!(commands.iter().filter(|c| **c == Command::CompareFaces).count(), 3);
        assert!(!commands.contains(&Command::IssueAccount));
        assert!(commands.contains(&Command::RecordOutcome(Outcome::Refused(Refusal::FaceMismatch))));
    }

    #[test]
    fn presentation_attack_is_refused_after_the_attempts() {
        let mut events = happy_prefix();
        events.extend((0..3).map(|_| Event::LivenessFailed));
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Refused(Refusal::LivenessFailed));
        assert!(!commands.contains(&Command::CheckDuplicate));
    }

    #[test]
    fn a_good_capture_after_a_bad_one_goes_on() {
        let mut events = happy_prefix();
        events.extend([Event::FaceNotFound, Event::FaceCaptured, Event::ChallengePassed]);
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Matching);
        assert_eq!(state.face_attempts, 2);
        assert!(commands.contains(&Command::RunChallenge));
    }

    #[test]
    fn a_failed_head_turn_challenge_is_retried_then_refused_as_liveness() {
        let mut events = happy_prefix();
        for _ in 0..3 {
            events.extend([Event::FaceCaptured, Event::ChallengeFailed]);
        }
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Refused(Refusal::LivenessFailed));
        assert_eq!(commands.iter().filter(|c| **c == Command::RunChallenge).count(), 3);
        assert!(!commands.contains(&Command::CompareFaces));
    }

    #[test]
    fn the_face_is_compared_only_after_the_challenge() {
        let mut events = happy_prefix();
        events.extend([Event::FaceCaptured, Event::FaceCompared { same_person: true }]);
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Challenge, "a comparison before the challenge is ignored");
        assert!(!commands.contains(&Command::CheckDuplicate));
    }

    #[test]
    fn duplicate_person_is_refused() {
        let mut events = happy_prefix();
        events.extend([
            Event::FaceCaptured,
            Event::ChallengePassed,
            Event::FaceCompared { same_person: true },
            Event::DuplicateChecked { already_enrolled: true },
        ]);
        let (state, commands) = run(events);
        assert_eq!(state.phase, Phase::Refused(Refusal::AlreadyEnrolled));
        assert!(!commands.contains(&Command::IssueAccount));
    }

    #[test]
    fn declining_consent_ends_politely_and_reads_nothing() {
        let (state, commands) = run(vec![Event::Touched(ButtonId::Start), Event::Touched(ButtonId::Decline)]);
        assert_eq!(state.phase, Phase::Refused(Refusal::ConsentDeclined));
        assert!(!commands.contains(&Command::ReadDocument));
    }

    #[test]
    fn untrusted_and_unreadable_documents_are_told_apart() {
        let mut events = vec![Event::Touched(ButtonId::Start), Event::Touched(ButtonId::Accept)];
        events.push(Event::DocumentFailed { trusted_but_unreadable: true });
        assert_eq!(run(events).0.phase, Phase::Refused(Refusal::DocumentUnreadable));
    }

    #[test]
    fn waiting_too_long_for_a_device_times_out() {
        let start = Instant::now();
        let (state, _) = run(vec![Event::Touched(ButtonId::Start), Event::Touched(ButtonId::Accept)]);
        let (same, nothing) = step(state, Event::Tick, state.since + Duration::from_secs(29), &LIMITS);
        assert_eq!((same.phase, nothing.len()), (Phase::Document, 0));
        let (late, commands) = step(state, Event::Tick, start + Duration::from_secs(120), &LIMITS);
        assert_eq!(late.phase, Phase::Refused(Refusal::Timeout));
        assert!(commands.contains(&Command::RecordOutcome(Outcome::Refused(Refusal::Timeout))));
    }

    #[test]
    fn walk_away_from_the_result_wipes_the_screen() {
        let (state, _) = run(vec![Event::Touched(ButtonId::Start), Event::Touched(ButtonId::Decline)]);
        let (after, commands) = step(state, Event::Tick, state.since + LIMITS.person, &LIMITS);
        assert_eq!(after.phase, Phase::Finished);
        assert_eq!(commands, vec![Command::Show(Screen::Welcome), Command::EndSession]);
    }

    #[test]
    fn device_fault_anywhere_goes_out_of_service() {
        let (state, commands) = run(vec![Event::Touched(ButtonId::Start), Event::DeviceFault]);
        assert_eq!(state.phase, Phase::OutOfService);
        assert!(commands.contains(&Command::Show(Screen::OutOfService)));
    }

    #[test]
    fn stray_events_change_nothing() {
        let (state, commands) = run(vec![Event::DocumentRead, Event::Touched(ButtonId::Accept)]);
        assert_eq!((state.phase, commands.len()), (Phase::Welcome, 0));
    }
}
