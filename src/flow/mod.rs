//! The onboarding as a pure state machine: `step(state, event, now) -> (state, commands)`.
//!
//! **Architecture invariant:** no I/O here and no personal data in the state. The shell
//! (`app`) performs the commands and feeds back what happened as events; time is passed in,
//! so every path, timeouts included, is tested without sleeping or devices.

mod machine;

pub use machine::{step, Command, Event, Outcome, Phase, State, StepTimeouts};
