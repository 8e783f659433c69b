use std::time::{Duration, Instant};

use super::*;
use super::screen::{ButtonId as B, Language, ReceiptStatus, Refusal, Screen, SocialStep};

const SETTINGS: FlowSettings = FlowSettings {
    walk_away: Duration::from_secs(45),
    device: Duration::from_secs(30),
    goodbye: Duration::from_secs(15),
    max_face_attempts: 3,
    min_age: 18,
    social_payments: true,
    social_categories: 4,
};

/// A valid document of an adult.
const READ: Event = Event::DocumentRead { expired: false, age_years: Some(30) };
/// Neither the document nor its holder enrolled before.
const NOT_KNOWN: Event = Event::ExactDuplicateChecked { already_enrolled: false };

/// Drives events one second apart from a fresh state; keeps every command for assertions.
struct Run {
    state: State,
    now: Instant,
    commands: Vec<Command>,
    settings: FlowSettings,
}

impl Run {
    fn new() -> Self {
        Self::with(SETTINGS)
    }

    fn with(settings: FlowSettings) -> Self {
        let now = Instant::now();
        Self { state: State::new(now), now, commands: Vec::new(), settings }
    }

    fn send(&mut self, event: Event) -> Vec<Command> {
        self.now += Duration::from_secs(1);
        let (state, commands) = step(self.state, event, self.now, &self.settings);
        self.state = state;
        self.commands.extend(commands.iter().cloned());
        commands
    }

    fn all(&mut self, events: impl IntoIterator<Item = Event>) -> &mut Self {
        for event in events {
            self.send(event);
        }
        self
    }

    fn wait(&mut self, duration: Duration) -> Vec<Command> {
        self.now += duration - Duration::from_secs(1);
        self.send(Event::Tick)
    }

    fn phase(&self) -> Phase {
        self.state.phase
    }

    fn count(&self, command: &Command) -> usize {
        self.commands.iter().filter(|c| *c == command).count()
    }

    fn recorded(&self) -> Vec<Outcome> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                Command::RecordOutcome(o) => Some(*o),
                _ => None,
            })
            .collect()
    }

    /// Start, read the one-page consent to its end, accept: the chip is being read.
    fn consented(mut self) -> Self {
        self.all([
            Event::Touched(B::Start),
            Event::ConsentShown { page: 0, pages: 1 },
            Event::Touched(B::Accept),
        ]);
        self
    }

    fn at_face(self) -> Self {
        let mut run = self.consented();
        run.all([READ, NOT_KNOWN]);
        run
    }

    fn issued(self) -> Self {
        let mut run = self.at_face();
        run.all([
            Event::FaceCaptured,
            Event::ChallengePassed,
            Event::FaceCompared { same_person: true },
            Event::DuplicateChecked { already_enrolled: false },
            Event::AccountIssued,
        ]);
        run
    }
}

#[test]
fn happy_path_issues_records_once_offers_social_payments_and_says_goodbye() {
    let mut run = Run::new().issued();
    assert_eq!(run.phase(), Phase::Issued);
    assert!(run.commands.contains(&Command::ShowAccount { receipt: None }));
    run.all([
        Event::Touched(B::Next),
        Event::Touched(B::Category(1)),
        Event::Touched(B::Next),
        Event::Touched(B::CreditPayments),
    ]);
    assert_eq!(run.phase(), Phase::Goodbye);
    assert_eq!(run.recorded(), vec![Outcome::AccountIssued]);
    assert_eq!(run.count(&Command::IssueAccount), 1);
    assert!(run.commands.contains(&Command::RecordSocialChoice { credit_to_account: true, categories: 0b10 }));
    assert!(run
        .commands
        .contains(&Command::Show(Screen::Goodbye { receipt_printed: false, social_payments_requested: true })));
    run.send(Event::Touched(B::Finish));
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(run.commands.last(), Some(&Command::EndSession));
}

#[test]
fn the_steps_run_in_order() {
    let run = Run::new().issued();
    let order: Vec<&Command> = run
        .commands
        .iter()
        .filter(|c| {
            matches!(
                c,
                Command::ReadDocument
                    | Command::CheckExactDuplicate
                    | Command::CaptureFace
                    | Command::RunChallenge
                    | Command::CompareFaces
                    | Command::CheckDuplicate
                    | Command::IssueAccount
            )
        })
        .collect();
    use Command::*;
    assert_eq!(
        order,
        vec![&ReadDocument, &CheckExactDuplicate, &CaptureFace, &RunChallenge, &CompareFaces, &CheckDuplicate, &IssueAccount]
    );
}

#[test]
fn language_and_accessibility_are_chosen_on_the_attract_screen() {
    let mut run = Run::new();
    run.all([Event::Touched(B::LanguageEn), Event::Touched(B::LargeText), Event::Touched(B::Speech)]);
    let o = run.state.options;
    assert_eq!((o.language, o.large_text, o.high_contrast, o.spoken), (Language::En, true, false, true));
    assert!(run.commands.contains(&Command::SetOptions(o)));
    assert_eq!(run.phase(), Phase::Welcome);
    run.all([Event::Touched(B::LargeText), Event::Touched(B::HighContrast), Event::Touched(B::LanguageRu)]);
    let o = run.state.options;
    assert_eq!((o.language, o.large_text, o.high_contrast, o.spoken), (Language::Ru, false, true, true));
    run.send(Event::Touched(B::Start));
    assert_eq!(run.state.options, o, "the choice is kept for the session");
}

#[test]
fn consent_can_be_accepted_only_after_reaching_its_last_page() {
    let mut run = Run::new();
    run.send(Event::Touched(B::Start));
    assert_eq!(run.commands.last(), Some(&Command::ShowConsent { page: 0, can_accept: false }));
    run.send(Event::ConsentShown { page: 0, pages: 3 });
    assert!(run.send(Event::Touched(B::Accept)).is_empty(), "accept before reading is ignored");
    assert_eq!(run.phase(), Phase::Consent);

    assert_eq!(run.send(Event::Touched(B::ScrollDown)), vec![Command::ShowConsent { page: 1, can_accept: false }]);
    assert!(run.send(Event::ConsentShown { page: 1, pages: 3 }).is_empty());
    run.send(Event::Touched(B::ScrollDown));
    // The last page unlocks "accept" once, and it stays unlocked when scrolling back.
    assert_eq!(run.send(Event::ConsentShown { page: 2, pages: 3 }), vec![Command::ShowConsent { page: 2, can_accept: true }]);
    assert_eq!(run.send(Event::Touched(B::ScrollUp)), vec![Command::ShowConsent { page: 1, can_accept: true }]);
    assert!(run.send(Event::ConsentShown { page: 1, pages: 3 }).is_empty());
    run.send(Event::Touched(B::Accept));
    assert_eq!(run.phase(), Phase::Document);
    assert!(run.commands.contains(&Command::ReadDocument));
}

#[test]
fn scrolling_up_from_the_first_page_stays_there() {
    let mut run = Run::new();
    run.send(Event::Touched(B::Start));
    assert_eq!(run.send(Event::Touched(B::ScrollUp)), vec![Command::ShowConsent { page: 0, can_accept: false }]);
}

#[test]
fn declining_consent_ends_politely_and_keeps_nothing() {
    let mut run = Run::new();
    run.all([Event::Touched(B::Start), Event::ConsentShown { page: 0, pages: 2 }, Event::Touched(B::Decline)]);
    assert_eq!(run.phase(), Phase::Refused(Refusal::ConsentDeclined));
    assert!(run.recorded().is_empty(), "nothing is recorded for a declined consent");
    assert!(!run.commands.contains(&Command::ReadDocument));
    assert!(run.commands.contains(&Command::Show(Screen::Refused { reason: Refusal::ConsentDeclined })));
}

#[test]
fn mismatch_is_retried_then_refused_without_issuing() {
    let mut run = Run::new().at_face();
    for _ in 0..3 {
        run.all([Event::FaceCaptured, Event::ChallengePassed, Event::FaceCompared { same_person: false }]);
    }
    assert_eq!(run.phase(), Phase::Refused(Refusal::FaceMismatch));
    assert_eq!(run.count(&Command::CaptureFace), 3);
    assert_eq!(run.count(&Command::CompareFaces), 3);
    assert!(!run.commands.contains(&Command::IssueAccount));
    assert_eq!(run.recorded(), vec![Outcome::Refused(Refusal::FaceMismatch)]);
}

#[test]
fn presentation_attack_is_refused_after_the_attempts() {
    let mut run = Run::new().at_face();
    run.all((0..3).map(|_| Event::LivenessFailed));
    assert_eq!(run.phase(), Phase::Refused(Refusal::LivenessFailed));
    assert!(!run.commands.contains(&Command::CheckDuplicate));
}

#[test]
fn a_face_failing_the_gates_uses_up_attempts() {
    let mut run = Run::new().at_face();
    run.all((0..3).map(|_| Event::FaceNotFound { someone_there: true }));
    assert_eq!(run.phase(), Phase::Refused(Refusal::NoFaceFound));
}

#[test]
fn an_empty_camera_is_no_failed_attempt_but_a_walk_away_in_time() {
    let mut run = Run::new().at_face();
    for _ in 0..10 {
        assert_eq!(run.send(Event::FaceNotFound { someone_there: false }), vec![Command::CaptureFace]);
    }
    assert_eq!(run.state.face_attempts, 1);
    run.now += SETTINGS.walk_away;
    let commands = run.send(Event::FaceNotFound { someone_there: false });
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(
        commands,
        vec![Command::RecordOutcome(Outcome::WalkedAway), Command::Show(Screen::Welcome), Command::EndSession]
    );
}

#[test]
fn a_good_capture_after_a_bad_one_goes_on() {
    let mut run = Run::new().at_face();
    run.all([Event::FaceNotFound { someone_there: true }, Event::FaceCaptured, Event::ChallengePassed]);
    assert_eq!(run.phase(), Phase::Matching);
    assert_eq!(run.state.face_attempts, 2);
    assert!(run.commands.contains(&Command::RunChallenge));
}

#[test]
fn a_failed_head_turn_challenge_is_retried_then_refused_as_liveness() {
    let mut run = Run::new().at_face();
    for _ in 0..3 {
        run.all([Event::FaceCaptured, Event::ChallengeFailed]);
    }
    assert_eq!(run.phase(), Phase::Refused(Refusal::LivenessFailed));
    assert_eq!(run.count(&Command::RunChallenge), 3);
    assert!(!run.commands.contains(&Command::CompareFaces));
}

#[test]
fn the_face_is_compared_only_after_the_challenge() {
    let mut run = Run::new().at_face();
    run.all([Event::FaceCaptured, Event::FaceCompared { same_person: true }]);
    assert_eq!(run.phase(), Phase::Challenge, "a comparison before the challenge is ignored");
    assert!(!run.commands.contains(&Command::CheckDuplicate));
}

#[test]
fn duplicate_person_is_refused() {
    let mut run = Run::new().at_face();
    run.all([
        Event::FaceCaptured,
        Event::ChallengePassed,
        Event::FaceCompared { same_person: true },
        Event::DuplicateChecked { already_enrolled: true },
    ]);
    assert_eq!(run.phase(), Phase::Refused(Refusal::AlreadyEnrolled));
    assert!(!run.commands.contains(&Command::IssueAccount));
}

#[test]
fn the_same_document_or_holder_is_refused_before_the_camera() {
    let mut run = Run::new().consented();
    assert_eq!(run.send(READ), vec![Command::CheckExactDuplicate], "the exact check comes right after the read");
    assert_eq!(run.phase(), Phase::Screening);
    let refused = run.send(Event::ExactDuplicateChecked { already_enrolled: true });
    assert_eq!(run.phase(), Phase::Refused(Refusal::AlreadyEnrolled));
    assert_eq!(
        refused,
        vec![
            Command::RecordOutcome(Outcome::Refused(Refusal::AlreadyEnrolled)),
            Command::Show(Screen::Refused { reason: Refusal::AlreadyEnrolled }),
        ],
        "the same refusal screen and record as a face found again"
    );
    for biometric in [Command::CaptureFace, Command::RunChallenge, Command::CompareFaces, Command::CheckDuplicate] {
        assert!(!run.commands.contains(&biometric), "{biometric:?} for a known document");
    }
    assert!(!run.commands.iter().any(|c| matches!(c, Command::Show(Screen::FaceCapture { .. }))), "no camera screen");
    // Not known: the camera step starts, and the face search still follows the match.
    let mut new = Run::new().consented();
    new.send(READ);
    let camera = new.send(NOT_KNOWN);
    assert_eq!(new.phase(), Phase::Face);
    assert_eq!(camera.last(), Some(&Command::CaptureFace));
    new.all([Event::FaceCaptured, Event::ChallengePassed]);
    assert!(!new.commands.contains(&Command::CheckDuplicate), "no face search before the match");
    assert_eq!(new.send(Event::FaceCompared { same_person: true }), vec![Command::CheckDuplicate]);
}

#[test]
fn the_exact_check_times_out_like_any_device_step_and_may_be_cancelled() {
    let mut run = Run::new().consented();
    run.send(READ);
    assert!(run.wait(SETTINGS.device - Duration::from_secs(1)).is_empty());
    run.wait(Duration::from_secs(1));
    assert_eq!(run.phase(), Phase::Refused(Refusal::Timeout));
    let mut run = Run::new().consented();
    run.send(READ);
    run.send(Event::Touched(B::Cancel));
    assert_eq!(run.recorded(), vec![Outcome::Refused(Refusal::Cancelled)]);
    // A late answer from the face search means nothing here.
    let mut run = Run::new().consented();
    run.send(READ);
    assert!(run.send(Event::DuplicateChecked { already_enrolled: false }).is_empty());
    assert_eq!(run.phase(), Phase::Screening);
}

#[test]
fn untrusted_and_unreadable_documents_are_told_apart() {
    let mut unreadable = Run::new().consented();
    unreadable.send(Event::DocumentFailed { trusted_but_unreadable: true });
    assert_eq!(unreadable.phase(), Phase::Refused(Refusal::DocumentUnreadable));
    let mut untrusted = Run::new().consented();
    untrusted.send(Event::DocumentFailed { trusted_but_unreadable: false });
    assert_eq!(untrusted.phase(), Phase::Refused(Refusal::DocumentNotTrusted));
    assert_eq!(untrusted.recorded(), vec![Outcome::Refused(Refusal::DocumentNotTrusted)]);
}

#[test]
fn the_reader_is_polled_until_the_passport_is_placed() {
    let mut run = Run::new().consented();
    // Nothing on the window: no refusal, the screen stays, the next tick looks again.
    assert!(run.send(Event::NoDocument).is_empty());
    assert_eq!(run.phase(), Phase::Document);
    assert_eq!(run.send(Event::Tick), vec![Command::ReadDocument]);
    assert!(run.send(Event::Tick).is_empty(), "one look per reply, never two reads at once");
    run.send(Event::NoDocument);
    assert_eq!(run.send(Event::Tick), vec![Command::ReadDocument]);
    run.send(READ);
    assert_eq!(run.phase(), Phase::Screening);
    assert!(run.recorded().is_empty());
}

#[test]
fn a_passport_never_placed_times_out_or_is_a_walk_away() {
    let mut run = Run::new().consented();
    run.send(Event::NoDocument);
    run.wait(SETTINGS.device);
    assert_eq!(run.phase(), Phase::Refused(Refusal::Timeout));
    assert_eq!(run.recorded(), vec![Outcome::Refused(Refusal::Timeout)]);
    // With a device timeout longer than the walk-away time the person is gone first.
    let mut run = Run::with(FlowSettings { device: SETTINGS.walk_away * 2, ..SETTINGS }).consented();
    run.send(Event::NoDocument);
    let commands = run.wait(SETTINGS.walk_away);
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(commands.first(), Some(&Command::RecordOutcome(Outcome::WalkedAway)));
}

#[test]
fn an_expired_document_and_a_minor_are_refused_before_any_biometrics() {
    let mut expired = Run::new().consented();
    expired.send(Event::DocumentRead { expired: true, age_years: Some(40) });
    assert_eq!(expired.phase(), Phase::Refused(Refusal::DocumentExpired));
    assert_eq!(expired.recorded(), vec![Outcome::Refused(Refusal::DocumentExpired)]);
    assert!(!expired.commands.contains(&Command::CaptureFace));
    // Expired and under age: the expiry is the reason given.
    let mut both = Run::new().consented();
    both.send(Event::DocumentRead { expired: true, age_years: Some(15) });
    assert_eq!(both.phase(), Phase::Refused(Refusal::DocumentExpired));

    for age in [None, Some(0), Some(17)] {
        let mut young = Run::new().consented();
        young.send(Event::DocumentRead { expired: false, age_years: age });
        assert_eq!(young.phase(), Phase::Refused(Refusal::Underage { min_age: 18 }), "age {age:?}");
        assert_eq!(young.recorded(), vec![Outcome::Refused(Refusal::Underage { min_age: 18 })]);
        assert!(!young.commands.contains(&Command::CaptureFace));
    }
    let mut adult = Run::new().consented();
    adult.send(Event::DocumentRead { expired: false, age_years: Some(18) });
    assert_eq!(adult.phase(), Phase::Screening, "18 on the day is old enough");
    // The configured minimum is the one applied and shown.
    let mut strict = Run::with(FlowSettings { min_age: 21, ..SETTINGS }).consented();
    strict.send(Event::DocumentRead { expired: false, age_years: Some(20) });
    assert_eq!(strict.phase(), Phase::Refused(Refusal::Underage { min_age: 21 }));
}

#[test]
fn waiting_too_long_for_a_device_times_out() {
    let mut run = Run::new().consented();
    assert!(run.wait(SETTINGS.device - Duration::from_secs(1)).is_empty());
    assert_eq!(run.phase(), Phase::Document);
    run.wait(Duration::from_secs(1));
    assert_eq!(run.phase(), Phase::Refused(Refusal::Timeout));
    assert_eq!(run.recorded(), vec![Outcome::Refused(Refusal::Timeout)]);
}

#[test]
fn walking_away_at_the_consent_wipes_the_screen_and_records_nothing() {
    let mut run = Run::new();
    run.all([Event::Touched(B::Start), Event::ConsentShown { page: 0, pages: 2 }]);
    assert!(run.wait(SETTINGS.walk_away - Duration::from_secs(2)).is_empty());
    let commands = run.wait(Duration::from_secs(2));
    assert_eq!(commands, vec![Command::Show(Screen::Welcome), Command::EndSession]);
    assert!(run.recorded().is_empty());
}

#[test]
fn a_touch_restarts_the_walk_away_timer() {
    let mut run = Run::new();
    run.all([Event::Touched(B::Start), Event::ConsentShown { page: 0, pages: 5 }]);
    run.wait(SETTINGS.walk_away - Duration::from_secs(5));
    run.send(Event::Touched(B::ScrollDown));
    assert!(run.wait(SETTINGS.walk_away - Duration::from_secs(5)).is_empty());
    assert_eq!(run.phase(), Phase::Consent);
}

#[test]
fn walking_away_during_the_challenge_is_recorded_and_wiped() {
    let mut run = Run::new().at_face();
    run.send(Event::FaceCaptured);
    let commands = run.wait(SETTINGS.walk_away);
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(commands.first(), Some(&Command::RecordOutcome(Outcome::WalkedAway)));
    assert_eq!(commands.last(), Some(&Command::EndSession));
}

#[test]
fn walking_away_from_the_qr_code_keeps_the_account_and_claims_nothing() {
    let mut run = Run::new().issued();
    run.send(Event::Touched(B::Next));
    assert_eq!(run.phase(), Phase::SocialCategories);
    run.all([Event::Touched(B::Category(0)), Event::Touched(B::Next)]);
    assert_eq!(run.phase(), Phase::SocialOffer);
    run.wait(SETTINGS.walk_away);
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(run.recorded(), vec![Outcome::AccountIssued]);
    assert!(!run.commands.iter().any(|c| matches!(c, Command::RecordSocialChoice { .. })));
}

#[test]
fn walk_away_from_a_refusal_wipes_the_screen() {
    let mut run = Run::new();
    run.all([Event::Touched(B::Start), Event::Touched(B::Decline)]);
    let commands = run.wait(SETTINGS.walk_away);
    assert_eq!(run.phase(), Phase::Finished);
    assert_eq!(commands, vec![Command::Show(Screen::Welcome), Command::EndSession]);
}

#[test]
fn the_goodbye_screen_returns_to_attract_by_itself() {
    let mut run = Run::new().issued();
    run.all([Event::Touched(B::Next), Event::Touched(B::NoThanks)]);
    assert!(run.commands.contains(&Command::RecordSocialChoice { credit_to_account: false, categories: 0 }));
    assert!(run.wait(SETTINGS.goodbye - Duration::from_secs(1)).is_empty());
    assert_eq!(run.wait(Duration::from_secs(1)), vec![Command::Show(Screen::Welcome), Command::EndSession]);
}

#[test]
fn categories_toggle_and_out_of_range_ones_are_ignored() {
    let mut run = Run::new().issued();
    run.send(Event::Touched(B::Next));
    let categories = |categories| vec![Command::ShowSocialOffer { step: SocialStep::Categories, categories }];
    assert_eq!(run.send(Event::Touched(B::Category(2))), categories(0b100));
    assert_eq!(run.send(Event::Touched(B::Category(0))), categories(0b101));
    assert_eq!(run.send(Event::Touched(B::Category(2))), categories(0b001));
    assert!(run.send(Event::Touched(B::Category(4))).is_empty());
    assert!(run.send(Event::Touched(B::Category(200))).is_empty());
    // The answer step lists for the ticks; back keeps them; ticks are not touched there.
    let answer = vec![Command::ShowSocialOffer { step: SocialStep::Answer, categories: 0b001 }];
    assert_eq!(run.send(Event::Touched(B::Next)), answer);
    assert!(run.send(Event::Touched(B::Category(1))).is_empty());
    assert_eq!(run.send(Event::Touched(B::Back)), categories(0b001));
    assert_eq!(run.send(Event::Touched(B::Next)), answer);
    run.send(Event::Touched(B::CreditPayments));
    assert!(run.commands.contains(&Command::RecordSocialChoice { credit_to_account: true, categories: 0b001 }));
}

#[test]
fn cancel_on_the_offer_is_no_answer() {
    let mut run = Run::new().issued();
    run.all([Event::Touched(B::Next), Event::Touched(B::Category(1)), Event::Touched(B::Cancel)]);
    assert_eq!(run.phase(), Phase::Goodbye);
    assert!(!run.commands.iter().any(|c| matches!(c, Command::RecordSocialChoice { .. })));
}

#[test]
fn without_social_payments_the_qr_code_leads_to_goodbye() {
    let mut run = Run::with(FlowSettings { social_payments: false, ..SETTINGS }).issued();
    run.send(Event::Touched(B::Next));
    assert_eq!(run.phase(), Phase::Goodbye);
    assert!(!run.commands.iter().any(|c| matches!(c, Command::ShowSocialOffer { .. })));
}

#[test]
fn a_receipt_is_printed_on_request_and_a_printer_failure_is_told() {
    let mut run = Run::new().issued();
    assert_eq!(run.send(Event::Touched(B::PrintReceipt)), vec![Command::PrintReceipt]);
    assert_eq!(
        run.send(Event::ReceiptPrinted { ok: false }),
        vec![Command::ShowAccount { receipt: Some(ReceiptStatus::Failed) }]
    );
    assert_eq!(run.phase(), Phase::Issued, "the account stands when the printer fails");
    run.send(Event::Touched(B::PrintReceipt));
    run.send(Event::ReceiptPrinted { ok: true });
    assert!(run.send(Event::Touched(B::PrintReceipt)).is_empty(), "one receipt is enough");
    run.all([Event::Touched(B::Next), Event::Touched(B::NoThanks)]);
    assert!(run
        .commands
        .contains(&Command::Show(Screen::Goodbye { receipt_printed: true, social_payments_requested: false })));
}

#[test]
fn cancel_after_the_document_is_recorded_as_cancelled() {
    let mut run = Run::new().at_face();
    run.send(Event::Touched(B::Cancel));
    assert_eq!(run.phase(), Phase::Refused(Refusal::Cancelled));
    assert_eq!(run.recorded(), vec![Outcome::Refused(Refusal::Cancelled)]);
}

#[test]
fn device_fault_anywhere_goes_out_of_service() {
    let mut run = Run::new();
    run.all([Event::Touched(B::Start), Event::DeviceFault]);
    assert_eq!(run.phase(), Phase::OutOfService);
    assert!(run.commands.contains(&Command::Show(Screen::OutOfService)));
    assert!(run.wait(SETTINGS.walk_away * 10).is_empty(), "out of service stays until the shell recovers");
}

#[test]
fn stray_events_change_nothing() {
    let mut run = Run::new();
    run.all([READ, Event::Touched(B::Accept), Event::AccountIssued, Event::Touched(B::Next)]);
    assert_eq!((run.phase(), run.commands.len()), (Phase::Welcome, 0));
}

#[test]
fn finishing_leaves_no_choice_of_the_person_in_the_state() {
    let mut run = Run::new();
    run.send(Event::Touched(B::LanguageEn));
    let mut run = Run { state: run.state, ..Run::new() }.issued();
    run.all([
        Event::Touched(B::Next),
        Event::Touched(B::Category(3)),
        Event::Touched(B::Next),
        Event::Touched(B::CreditPayments),
    ]);
    run.send(Event::Touched(B::Finish));
    let fresh = State::new(run.now);
    assert_eq!(run.state, State { phase: Phase::Finished, ..fresh });
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_event() -> impl Strategy<Value = Event> {
        let buttons = prop_oneof![
            Just(B::Start),
            Just(B::LanguageRu),
            Just(B::LanguageEn),
            Just(B::LargeText),
            Just(B::HighContrast),
            Just(B::Speech),
            Just(B::Accept),
            Just(B::Decline),
            Just(B::ScrollUp),
            Just(B::ScrollDown),
            Just(B::Cancel),
            Just(B::Next),
            Just(B::PrintReceipt),
            any::<u8>().prop_map(B::Category),
            Just(B::CreditPayments),
            Just(B::NoThanks),
            Just(B::Back),
            Just(B::Finish),
        ];
        prop_oneof![
            buttons.prop_map(Event::Touched),
            (0u16..6, 1u16..6).prop_map(|(page, pages)| Event::ConsentShown { page, pages }),
            Just(READ),
            Just(Event::NoDocument),
            any::<bool>().prop_map(|t| Event::DocumentFailed { trusted_but_unreadable: t }),
            Just(Event::FaceCaptured),
            any::<bool>().prop_map(|s| Event::FaceNotFound { someone_there: s }),
            Just(Event::LivenessFailed),
            Just(Event::ChallengePassed),
            Just(Event::ChallengeFailed),
            any::<bool>().prop_map(|s| Event::FaceCompared { same_person: s }),
            any::<bool>().prop_map(|a| Event::ExactDuplicateChecked { already_enrolled: a }),
            any::<bool>().prop_map(|a| Event::DuplicateChecked { already_enrolled: a }),
            Just(Event::AccountIssued),
            any::<bool>().prop_map(|ok| Event::ReceiptPrinted { ok }),
            Just(Event::Tick),
        ]
    }

    proptest! {
        /// Whatever the person and the devices do: an account is issued only after consent, a
        /// read document, a clean exact check, a passed challenge, a match and a clean face
        /// search, in that order; the camera never starts before the exact check; it is recorded at most once; a social-payment choice only after an account.
        #[test]
        fn no_account_without_every_check(events in proptest::collection::vec((any_event(), 0u64..60), 0..80)) {
            let mut state = State::new(Instant::now());
            let mut now = state.since;
            let mut checks: Vec<Command> = Vec::new();
            let mut issued = 0;
            for (event, secs) in events {
                now += Duration::from_secs(secs);
                let (next, commands) = step(state, event, now, &SETTINGS);
                for command in commands {
                    match command {
                        Command::ReadDocument
                        | Command::CheckExactDuplicate
                        | Command::RunChallenge
                        | Command::CompareFaces
                        | Command::CheckDuplicate => checks.push(command),
                        Command::CaptureFace => {
                            prop_assert!(checks.contains(&Command::CheckExactDuplicate), "camera before the exact check: {:?}", checks)
                        }
                        Command::IssueAccount => {
                            let order = [
                                Command::ReadDocument,
                                Command::CheckExactDuplicate,
                                Command::RunChallenge,
                                Command::CompareFaces,
                                Command::CheckDuplicate,
                            ];
                            let mut it = checks.iter();
                            prop_assert!(order.iter().all(|c| it.any(|d| d == c)), "issued after {:?}", checks);
                        }
                        Command::RecordOutcome(Outcome::AccountIssued) => issued += 1,
                        Command::RecordSocialChoice { .. } => prop_assert!(issued == 1),
                        Command::EndSession => checks.clear(),
                        _ => {}
                    }
                }
                if next.phase == Phase::Finished {
                    issued = 0;
                    state = State::new(now);
                } else {
                    state = next;
                }
                prop_assert!(issued <= 1);
            }
        }
    }
}

/// The keyed-in MRZ: the shell's side played with a real [`MrzEntry`], as the session does.
mod keyed_mrz {
    use super::*;
    use crate::flow::keyed::{MrzEdit, MrzEntry, MrzField};

    /// Performs the flow's `EditMrz` commands on `entry` and feeds back what the shell reports.
    fn press(run: &mut Run, entry: &mut MrzEntry, button: B) -> Vec<Command> {
        let mut out = run.send(Event::Touched(button));
        while let Some(Command::EditMrz { field, edit }) = out.iter().find(|c| matches!(c, Command::EditMrz { .. })).cloned() {
            let state = entry.apply(field, edit);
            out = run.send(Event::MrzEdited { field, state, done: edit == MrzEdit::Done });
        }
        out
    }

    fn type_in(run: &mut Run, entry: &mut MrzEntry, text: &str) -> Vec<Command> {
        let mut out = Vec::new();
        for c in text.bytes() {
            out = press(run, entry, B::Char(c));
        }
        out
    }

    fn no_window() -> Run {
        let mut run = Run::new().consented();
        let out = run.send(Event::NoMrzWindow);
        assert_eq!(run.phase(), Phase::KeyedMrz);
        assert!(matches!(out[..], [Command::ShowMrzEntry { active: MrzField::DocumentNumber, letters: None, notice: None, .. }]), "{out:?}");
        run
    }

    fn entry_shown(out: &[Command]) -> Option<(MrzField, [FieldState; 3], Option<MrzNotice>)> {
        out.iter().find_map(|c| match c {
            Command::ShowMrzEntry { active, states, notice, .. } => Some((*active, *states, *notice)),
            _ => None,
        })
    }

    #[test]
    fn a_reader_without_a_window_asks_for_the_fields_then_reads_the_chip_with_them() {
        let mut run = no_window();
        let mut entry = MrzEntry::new();
        // Letters: the number's keys switch to letters and back.
        assert!(matches!(run.send(Event::Touched(B::Letters))[..], [Command::ShowMrzEntry { letters: Some(0), .. }]));
        type_in(&mut run, &mut entry, "L");
        // "More" pages on through the letters (the screen wraps the count), "123" goes back.
        assert!(matches!(run.send(Event::Touched(B::Letters))[..], [Command::ShowMrzEntry { letters: Some(1), .. }]));
        assert!(matches!(run.send(Event::Touched(B::Digits))[..], [Command::ShowMrzEntry { letters: None, .. }]));
        let out = type_in(&mut run, &mut entry, "898902C3");
        assert_eq!(entry_shown(&out).map(|s| s.1[0]), Some(FieldState::Partial));
        // The check digit completes the number: on to the birth date at once.
        let out = type_in(&mut run, &mut entry, "6");
        assert_eq!(entry_shown(&out).map(|s| (s.0, s.1[0])), Some((MrzField::BirthDate, FieldState::Valid)));
        // Letters are not offered in a date.
        assert!(run.send(Event::Touched(B::Letters)).is_empty());
        type_in(&mut run, &mut entry, "7408122");
        let out = type_in(&mut run, &mut entry, "1204159");
        assert_eq!(entry_shown(&out), Some((MrzField::ExpiryDate, [FieldState::Valid; 3], None)));
        assert_eq!(run.phase(), Phase::KeyedMrz, "the read waits for the person's \"next\"");
        let out = press(&mut run, &mut entry, B::Next);
        assert_eq!(out, [Command::Show(Screen::PlaceDocument), Command::ReadDocument]);
        assert_eq!(run.phase(), Phase::Document);
        assert!(run.state.keyed.in_use);
        assert_eq!(entry.mrz_information().as_deref(), Some("L898902C3674081221204159"));
        // From here on, exactly as a scanned MRZ.
        run.all([READ, NOT_KNOWN]);
        assert_eq!(run.phase(), Phase::Face);
        assert!(!format!("{:?}", run.state).contains("898902"), "no typed character in the state");
    }

    #[test]
    fn a_wrong_check_digit_is_shown_as_typed_and_corrected_with_backspace() {
        let mut run = no_window();
        let mut entry = MrzEntry::new();
        let out = type_in(&mut run, &mut entry, "1234567890");
        assert_eq!(entry_shown(&out).map(|s| (s.0, s.1[0])), Some((MrzField::DocumentNumber, FieldState::Wrong)));
        // "Next" on a wrong field stays on it and says so.
        let out = press(&mut run, &mut entry, B::Next);
        assert_eq!(entry_shown(&out).map(|s| (s.0, s.2)), Some((MrzField::DocumentNumber, Some(MrzNotice::CheckField))));
        let out = press(&mut run, &mut entry, B::Backspace);
        assert_eq!(entry_shown(&out).map(|s| (s.1[0], s.2)), Some((FieldState::Partial, None)));
        let cd = char::from(b'0' + crate::flow::keyed::check_digit(b"123456789").unwrap());
        let out = type_in(&mut run, &mut entry, &cd.to_string());
        assert_eq!(entry_shown(&out).map(|s| s.0), Some(MrzField::BirthDate));
        // An impossible month is wrong at once; back goes to the number.
        let out = type_in(&mut run, &mut entry, "8513");
        assert_eq!(entry_shown(&out).map(|s| s.1[1]), Some(FieldState::Wrong));
        let out = run.send(Event::Touched(B::Back));
        assert_eq!(entry_shown(&out).map(|s| s.0), Some(MrzField::DocumentNumber));
        assert!(run.send(Event::Touched(B::Back)).is_empty(), "nothing before the first field");
    }

    #[test]
    fn a_key_the_chip_refuses_sends_the_person_back_to_check_then_is_refused() {
        let mut run = no_window();
        let mut entry = MrzEntry::new();
        type_in(&mut run, &mut entry, "L898902C36");
        type_in(&mut run, &mut entry, "7408122");
        type_in(&mut run, &mut entry, "1204159");
        for left in (1..MAX_KEYED_ATTEMPTS).rev() {
            press(&mut run, &mut entry, B::Next);
            assert_eq!(run.phase(), Phase::Document);
            let out = run.send(Event::KeyedMrzRefused);
            assert_eq!(run.phase(), Phase::KeyedMrz);
            assert_eq!(
                entry_shown(&out),
                Some((MrzField::DocumentNumber, [FieldState::Valid; 3], Some(MrzNotice::ChipRefused { attempts_left: left })))
            );
            // The fields are kept: "next" through them reads again.
            press(&mut run, &mut entry, B::Next);
            press(&mut run, &mut entry, B::Next);
        }
        press(&mut run, &mut entry, B::Next);
        let out = run.send(Event::KeyedMrzRefused);
        assert_eq!(run.phase(), Phase::Refused(Refusal::KeyedMrzRefused));
        assert!(out.contains(&Command::RecordOutcome(Outcome::Refused(Refusal::KeyedMrzRefused))));
    }

    #[test]
    fn cancel_or_walking_away_from_the_entry_ends_the_session() {
        let mut run = no_window();
        run.send(Event::Touched(B::Cancel));
        assert_eq!(run.phase(), Phase::Refused(Refusal::Cancelled));
        let mut run = no_window();
        run.wait(SETTINGS.walk_away);
        assert_eq!(run.phase(), Phase::Finished);
        assert_eq!(run.recorded(), [Outcome::WalkedAway]);
        // No device timeout while the person types.
        let mut run = no_window();
        run.wait(SETTINGS.device + Duration::from_secs(1));
        assert_eq!(run.phase(), Phase::KeyedMrz);
    }

    #[test]
    fn a_scanned_mrz_refused_by_the_chip_is_no_keyed_retry() {
        let mut run = Run::new().consented();
        run.send(Event::KeyedMrzRefused);
        assert_eq!(run.phase(), Phase::Document, "ignored without a keyed entry");
        run.send(Event::DocumentFailed { trusted_but_unreadable: true });
        assert_eq!(run.phase(), Phase::Refused(Refusal::DocumentUnreadable));
    }
}
