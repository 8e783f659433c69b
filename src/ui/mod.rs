//! Kiosk screens, drawn with embedded-graphics on any [`kiosk_hal::Display`].
//!
//! `render(&mut display, &screen, &options)` draws a screen and returns its [`Layout`]
//! (button rectangles for touches, the consent's page count); the caller then calls
//! `display.present(id)`. `render_with` takes a [`UiContext`]: fonts, messages (from
//! `kiosk-config/messages`) and the physical [`Panel`] the buttons are sized for (≥ 15 mm).
//! [`spoken_text`] is what the kiosk says on a screen; [`button_for_key`] maps the keypad.

mod error;
pub mod fonts;
mod icons;
pub mod keypad;
mod layout;
mod qr;
mod render;
mod spoken;
pub mod text;
mod textblock;
pub mod theme;
mod widgets;

pub use error::UiError;
pub use fonts::{FontSizes, Fonts};
pub use keypad::button_for_key;
pub use layout::{Layout, Panel, MIN_BUTTON_MM};
pub use render::{face_preview_area, render, render_with, render_with_fonts, UiContext};
pub use spoken::{spoken_text, spoken_text_with};
pub use text::embedded_messages;
pub use theme::Theme;

// The vocabulary the ui draws; it belongs to the flow, which decides what is shown.
pub use crate::flow::screen::{
    ButtonId, Choice, FaceBox, FieldState, Guidance, KeyedField, Language, MrzField, MrzNotice, Preview,
    ReceiptStatus, Refusal, Screen, SocialStep, UiOptions,
};

impl From<FaceBox> for embedded_graphics::primitives::Rectangle {
    fn from(b: FaceBox) -> Self {
        Self::new(embedded_graphics::prelude::Point::new(b.x, b.y), embedded_graphics::prelude::Size::new(b.width, b.height))
    }
}

impl From<embedded_graphics::primitives::Rectangle> for FaceBox {
    fn from(r: embedded_graphics::primitives::Rectangle) -> Self {
        Self { x: r.top_left.x, y: r.top_left.y, width: r.size.width, height: r.size.height }
    }
}
