//! Screen geometry: where the buttons ended up (for touches) and the sizes every screen
//! shares, scaled from the 800x480 design.

use embedded_graphics::{prelude::*, primitives::Rectangle};

use super::fonts::FontSizes;
use super::{ButtonId, UiOptions};

/// Buttons drawn on the screen, for hit-testing touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub buttons: Vec<(ButtonId, Rectangle)>,
}

impl Layout {
    /// The button under a touch at display pixel (x, y).
    pub fn hit(&self, x: i32, y: i32) -> Option<ButtonId> {
        let p = Point::new(x, y);
        self.buttons.iter().find(|(_, r)| r.contains(p)).map(|(id, _)| *id)
    }

    /// Centre of a button, where a scripted person touches it.
    pub fn center_of(&self, id: ButtonId) -> Option<Point> {
        self.buttons.iter().find(|(b, _)| *b == id).map(|(_, r)| r.center())
    }
}

/// Shared measurements for one display size and set of options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Metrics {
    pub width: i32,
    pub height: i32,
    pub scale: f32,
    pub margin: i32,
    pub gap: i32,
    pub header_h: i32,
    pub button_h: i32,
    pub radius: u32,
    pub fonts: FontSizes,
}

/// Finger-sized: 15 mm at ~96 DPI is about 57 px, rounded up.
pub(crate) const MIN_BUTTON_PX: i32 = 60;

impl Metrics {
    pub fn new(size: Size, options: &UiOptions) -> Self {
        let scale = (size.width as f32 / 800.0).min(size.height as f32 / 480.0);
        let px = |v: f32| (v * scale).round() as i32;
        let fonts = FontSizes::new(scale, options.large_text);
        let bar = px(20.0) + px(8.0);
        Self {
            width: size.width as i32,
            height: size.height as i32,
            scale,
            margin: px(24.0),
            gap: px(14.0),
            header_h: bar + (fonts.small as f32 * 1.2) as i32 + px(10.0),
            button_h: px(if options.large_text { 84.0 } else { 76.0 }).max(MIN_BUTTON_PX),
            radius: px(12.0) as u32,
            fonts,
        }
    }

    pub fn px(&self, v: f32) -> i32 {
        (v * self.scale).round() as i32
    }

    /// Everything below the header, inside the margins.
    pub fn body(&self) -> Rectangle {
        let top = self.header_h + self.margin;
        rect(self.margin, top, self.width - 2 * self.margin, self.height - top - self.margin)
    }
}

/// Rectangle from signed parts; negative sizes collapse to empty.
pub(crate) fn rect(x: i32, y: i32, w: i32, h: i32) -> Rectangle {
    Rectangle::new(Point::new(x, y), Size::new(w.max(0) as u32, h.max(0) as u32))
}

/// Splits `area` into `n` equal columns with `gap` between them.
pub(crate) fn columns(area: Rectangle, n: i32, gap: i32) -> Vec<Rectangle> {
    let n = n.max(1);
    let w = (area.size.width as i32 - gap * (n - 1)) / n;
    (0..n)
        .map(|i| rect(area.top_left.x + i * (w + gap), area.top_left.y, w, area.size.height as i32))
        .collect()
}

/// The bottom strip of `area` with height `h`, and what is left above it (minus `gap`).
pub(crate) fn split_bottom(area: Rectangle, h: i32, gap: i32) -> (Rectangle, Rectangle) {
    let (x, y, w, total) =
        (area.top_left.x, area.top_left.y, area.size.width as i32, area.size.height as i32);
    (rect(x, y, w, total - h - gap), rect(x, y + total - h, w, h))
}

/// The left part of `area` with width `w`, and what is right of it (minus `gap`).
pub(crate) fn split_left(area: Rectangle, w: i32, gap: i32) -> (Rectangle, Rectangle) {
    let (x, y, total, h) =
        (area.top_left.x, area.top_left.y, area.size.width as i32, area.size.height as i32);
    (rect(x, y, w, h), rect(x + w + gap, y, total - w - gap, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_and_center() {
        let layout = Layout {
            buttons: vec![
                (ButtonId::Start, rect(10, 10, 100, 60)),
                (ButtonId::Cancel, rect(200, 10, 100, 60)),
            ],
        };
        assert_eq!(layout.hit(15, 15), Some(ButtonId::Start));
        assert_eq!(layout.hit(150, 15), None);
        assert_eq!(layout.center_of(ButtonId::Cancel), Some(Point::new(249, 39)));
        assert_eq!(layout.hit(249, 39), Some(ButtonId::Cancel));
        assert_eq!(layout.center_of(ButtonId::Finish), None);
    }

    #[test]
    fn buttons_are_finger_sized_at_every_size() {
        for (w, h) in [(800, 480), (1280, 800), (480, 320)] {
            for large_text in [false, true] {
                let m = Metrics::new(Size::new(w, h), &UiOptions { large_text, ..UiOptions::default() });
                assert!(m.button_h >= MIN_BUTTON_PX);
            }
        }
    }

    #[test]
    fn splitting() {
        let cols = columns(rect(0, 0, 100, 10), 3, 5);
        assert_eq!(cols[2], rect(70, 0, 30, 10));
        let (top, bottom) = split_bottom(rect(0, 0, 10, 100), 30, 10);
        assert_eq!((top, bottom), (rect(0, 0, 10, 60), rect(0, 70, 10, 30)));
    }
}
