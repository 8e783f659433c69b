//! Input: touches and keys from the person at the kiosk.

mod evdev;
mod evdev_decode;
#[cfg(feature = "sim")]
mod scripted;

pub use evdev::EvdevInput;
pub use evdev::EvdevOptions;
pub use evdev_decode::{
    parse_event, AxisRange, DeviceAxes, EventDecoder, Orientation, RawEvent, Rotation, TouchAxes, EVENT_SIZE,
};
#[cfg(feature = "sim")]
pub use scripted::ScriptedInput;

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Enter,
    Cancel,
    Clear,
    Up,
    Down,
    Left,
    Right,
    Digit(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// A touch at display pixel coordinates.
    Touch {
        x: i32,
        y: i32,
    },
    Key(Key),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("input device {device} could not be opened: {reason}")]
    Open { device: String, reason: String },
    #[error("input device {device} read failed: {reason}")]
    Read { device: String, reason: String },
}

pub trait Input: Send {
    /// Waits up to `timeout` for the next event; `None` when nothing happened.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<InputEvent>, InputError>;
}
