//! Input that replays a fixed list of events: demos and tests.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Input, InputError, InputEvent};

/// Returns the given events in order, then `None` at once (it never sleeps for the timeout,
/// so a demo or test that runs out of script finishes instead of hanging).
#[derive(Debug, Clone, Default)]
pub struct ScriptedInput {
    events: VecDeque<InputEvent>,
}

impl ScriptedInput {
    pub fn new(events: impl IntoIterator<Item = InputEvent>) -> Self {
        Self { events: events.into_iter().collect() }
    }

    /// Appends an event to the end of the script.
    pub fn push(&mut self, event: InputEvent) {
        self.events.push_back(event);
    }

    /// Events not delivered yet.
    pub fn remaining(&self) -> usize {
        self.events.len()
    }
}

impl Input for ScriptedInput {
    fn next_event(&mut self, _timeout: Duration) -> Result<Option<InputEvent>, InputError> {
        Ok(self.events.pop_front())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Key;
    use std::time::Instant;

    #[test]
    fn replays_in_order_then_none_without_waiting() {
        let mut input = ScriptedInput::new([InputEvent::Touch { x: 1, y: 2 }, InputEvent::Key(Key::Enter)]);
        let t = Duration::from_secs(30);
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Touch { x: 1, y: 2 }));
        input.push(InputEvent::Key(Key::Cancel));
        assert_eq!(input.remaining(), 2);
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Key(Key::Enter)));
        assert_eq!(input.next_event(t).unwrap(), Some(InputEvent::Key(Key::Cancel)));
        let start = Instant::now();
        assert_eq!(input.next_event(t).unwrap(), None);
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
