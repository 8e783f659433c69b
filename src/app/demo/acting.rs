//! What the demo's person presses: they read the screen the session presents (its buttons where
//! the session drew them) and answer it as their [`Choices`] say, on the touch screen or on the
//! keypad. The flow alone decides which screen comes next: nothing here knows its order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiosk_hal::{input::Key, Input, InputError, InputEvent};

use super::Choices;
use crate::app::session::ScreenObserver;
use crate::flow::{ButtonId, Screen, SocialStep};
use crate::ui::{self, Layout};

/// Keys of the kiosk's keypad, in the order a person tries them.
const KEYPAD: [Key; 14] = [
    Key::Enter,
    Key::Cancel,
    Key::Up,
    Key::Down,
    Key::Digit(1),
    Key::Digit(2),
    Key::Digit(3),
    Key::Digit(4),
    Key::Digit(5),
    Key::Digit(6),
    Key::Digit(7),
    Key::Digit(8),
    Key::Digit(9),
    Key::Digit(0),
];

/// The screens presented so far: how many, and the last with its buttons. The session writes
/// it ([`Shown::observer`]), the person reads it.
#[derive(Clone, Default)]
pub struct Shown(Arc<Mutex<Presented>>);

/// How many screens were presented, and the last with its buttons.
#[derive(Default)]
struct Presented {
    count: u64,
    last: Option<(Screen, Layout)>,
}

impl Shown {
    /// What the session tells of each screen it presents.
    pub fn observer(&self) -> ScreenObserver {
        let shown = self.clone();
        Arc::new(move |screen: &Screen, layout: &Layout| {
            if let Ok(mut presented) = shown.0.lock() {
                presented.count += 1;
                presented.last = Some((screen.clone(), layout.clone()));
            }
        })
    }

    /// The screen presented last, when it came after presentation number `seen`.
    fn newer_than(&self, seen: u64) -> Option<(u64, Screen, Layout)> {
        let presented = self.0.lock().ok()?;
        let (screen, layout) = presented.last.as_ref().filter(|_| presented.count > seen)?;
        Some((presented.count, screen.clone(), layout.clone()))
    }
}

/// The person's hands: one answer to each screen presented; while nothing new is shown, a
/// touch screen nobody touches (the timeout waited out, as the scripted input does).
pub struct ActingPerson {
    shown: Shown,
    choices: Choices,
    /// Options still to touch on the welcome screen, in order.
    options: VecDeque<ButtonId>,
    /// They walk away once the consent is accepted.
    leaves_after_consent: bool,
    seen: u64,
    started: bool,
    gone: bool,
}

impl ActingPerson {
    pub fn new(shown: Shown, choices: Choices, leaves_after_consent: bool) -> Self {
        let options = choices.options.iter().copied().collect();
        Self { shown, choices, options, leaves_after_consent, seen: 0, started: false, gone: false }
    }

    /// The button they press on `screen`, if any.
    fn answer(&mut self, screen: &Screen) -> Option<ButtonId> {
        let choices = &self.choices;
        if self.gone {
            return None;
        }
        Some(match screen {
            // The welcome screen of whoever comes next, after they finished.
            Screen::Welcome if self.started => return None,
            Screen::Welcome => self.options.pop_front().unwrap_or_else(|| {
                self.started = true;
                ButtonId::Start
            }),
            Screen::Consent { can_accept: false, .. } => ButtonId::ScrollDown,
            Screen::Consent { .. } if choices.declines_consent => ButtonId::Decline,
            Screen::Consent { .. } => {
                self.gone = self.leaves_after_consent;
                ButtonId::Accept
            }
            Screen::AccountIssued { can_print: true, receipt: None, .. } if choices.prints_receipt => {
                ButtonId::PrintReceipt
            }
            Screen::AccountIssued { .. } => ButtonId::Next,
            Screen::SocialPayments { step: SocialStep::Categories, categories, .. } => {
                let wanted = choices.social.as_ref().map_or(&[][..], |(ticks, _)| ticks.as_slice());
                let untick = |&&i: &&u8| categories.get(usize::from(i)).is_some_and(|c| !c.selected);
                wanted.iter().find(untick).map_or(ButtonId::Next, |&i| ButtonId::Category(i))
            }
            Screen::SocialPayments { step: SocialStep::Answer, .. } => {
                if choices.social.as_ref().is_some_and(|(_, credit)| *credit) {
                    ButtonId::CreditPayments
                } else {
                    ButtonId::NoThanks
                }
            }
            Screen::Goodbye { .. } | Screen::Refused { .. } => ButtonId::Finish,
            _ => return None,
        })
    }
}

impl ActingPerson {
    /// What they do about the screen presented last, if it is new to them.
    fn act(&mut self) -> Option<InputEvent> {
        let (count, screen, layout) = self.shown.newer_than(self.seen)?;
        self.seen = count;
        // The options are touched; from "Start" on, a keypad person uses the keys only.
        let by_keypad = self.choices.keypad && self.options.is_empty();
        let button = self.answer(&screen)?;
        let key = KEYPAD.into_iter().find(|&k| ui::button_for_key(&screen, k) == Some(button));
        match (by_keypad, key, layout.center_of(button)) {
            (true, Some(key), _) => Some(InputEvent::Key(key)),
            (false, _, Some(point)) => Some(InputEvent::Touch { x: point.x, y: point.y }),
            _ => {
                tracing::warn!(?button, "the demo's person finds no way to press it on this screen");
                None
            }
        }
    }
}

impl Input for ActingPerson {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError> {
        let event = self.act();
        if event.is_none() {
            std::thread::sleep(timeout);
        }
        Ok(event)
    }
}
