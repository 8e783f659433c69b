//! The onboarding as a pure state machine: `step(state, event, now) -> (state, commands)`.
//!
//! **Architecture invariant:** no I/O here and no personal data in the state. The shell
//! (`app`) performs the commands and feeds back what happened as events; time is passed in,
//! so every path, timeouts and walk-aways included, is tested without sleeping or devices.
//!
//! attract (language, large text, contrast, voice) → consent (read to its last page) →
//! document → face → head-turn challenge → 1:1 match → 1:N duplicate check → account + QR
//! (receipt on request) → social-payments offer → goodbye; every failure ends on a polite
//! refusal screen, a device fault on the out-of-service screen.

pub mod keyed;
mod machine;
pub mod screen;
mod timing;

pub use keyed::{FieldState, MrzEdit, MrzEntry, MrzField};
pub use machine::{
    step, toggled, CategoryBits, Command, Event, FlowSettings, KeyedProgress, MrzFieldSlot, Outcome, Phase, State,
    MAX_KEYED_ATTEMPTS,
};
pub use screen::{
    ButtonId, Choice, FaceBox, Guidance, KeyedField, Language, MrzNotice, Preview, ReceiptStatus, Refusal, Screen,
    SocialStep, UiOptions,
};

#[cfg(test)]
mod tests;
