//! Time-driven transitions: a device step taking too long, the person walking away, and the
//! next look for a document the reader did not find yet.

use std::time::Instant;

use super::machine::{finish, refuse, Command, FlowSettings, Outcome, Phase, State};
use super::screen::Refusal;

/// The clock moved on with nothing else happening.
pub(super) fn tick(state: State, now: Instant, settings: &FlowSettings) -> (State, Vec<Command>) {
    if let Some(gone) = walked_away(state, now, settings) {
        return gone;
    }
    let waited = now.saturating_duration_since(state.since);
    match state.phase {
        Phase::Goodbye if waited >= settings.goodbye => finish(now),
        Phase::Document
        | Phase::Screening
        | Phase::Face
        | Phase::Challenge
        | Phase::Matching
        | Phase::Deciding
        | Phase::Issuing
            if waited >= settings.device =>
        {
            refuse(state, Refusal::Timeout, now)
        }
        Phase::Document if state.awaiting_document => {
            (State { awaiting_document: false, ..state }, vec![Command::ReadDocument])
        }
        _ => (state, Vec::new()),
    }
}

/// `Some` when the person has not been seen for the walk-away time in a phase that waits for
/// them: the session is wiped from memory and the screen. A session the person consented to and
/// left before the account is recorded as walked away (no personal data: the record is wiped).
pub(super) fn walked_away(state: State, now: Instant, settings: &FlowSettings) -> Option<(State, Vec<Command>)> {
    let unseen = now.saturating_duration_since(state.last_seen);
    if !state.phase.waits_for_person() || unseen < settings.walk_away {
        return None;
    }
    let (next, mut commands) = finish(now);
    if matches!(state.phase, Phase::KeyedMrz | Phase::Document | Phase::Face | Phase::Challenge) {
        commands.insert(0, Command::RecordOutcome(Outcome::WalkedAway));
    }
    Some((next, commands))
}
