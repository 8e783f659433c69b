//! Screen geometry: where the buttons ended up (for touches) and the sizes every screen
//! shares, scaled from the 800x480 design.

use embedded_graphics::{prelude::*, primitives::Rectangle};

use super::fonts::FontSizes;
use super::{ButtonId, UiOptions};

/// Buttons drawn on the screen, for hit-testing touches. A button drawn disabled (greyed) is
/// not in `buttons`: a touch on it hits nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub buttons: Vec<(ButtonId, Rectangle)>,
    /// Pages of the consent text at this size and mode (0 on every other screen).
    pub pages: u16,
}

/// The physical panel: how wide the visible picture is, so that buttons can be made finger-sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Panel {
    pub width_mm: f32,
}

impl Panel {
    /// A 7" 800x480 panel (`[display] width_mm` in the configuration).
    pub const DEFAULT_WIDTH_MM: f32 = 154.0;

    pub fn new(width_mm: f32) -> Self {
        Self { width_mm }
    }

    /// Pixels per millimetre for a picture `width_px` wide; a nonsense width (zero, negative,
    /// not a number) counts as the default panel.
    pub fn px_per_mm(&self, width_px: u32) -> f32 {
        let mm = if self.width_mm.is_finite() && self.width_mm > 1.0 {
            self.width_mm
        } else {
            Self::DEFAULT_WIDTH_MM
        };
        width_px as f32 / mm
    }
}

impl Default for Panel {
    fn default() -> Self {
        Self { width_mm: Self::DEFAULT_WIDTH_MM }
    }
}

/// Smallest side of anything a finger should press.
pub const MIN_BUTTON_MM: f32 = 15.0;

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
    /// 1.4 in large-text mode, else 1.
    pub text_scale: f32,
    pub margin: i32,
    pub gap: i32,
    pub header_h: i32,
    pub button_h: i32,
    /// 15 mm on this panel, in pixels: no button is smaller in either direction.
    pub min_button: i32,
    pub radius: u32,
    pub fonts: FontSizes,
}

impl Metrics {
    pub fn new(size: Size, options: &UiOptions, panel: Panel) -> Self {
        let scale = (size.width as f32 / 800.0).min(size.height as f32 / 480.0);
        let px = |v: f32| (v * scale).round() as i32;
        let fonts = FontSizes::new(scale, options.large_text);
        let bar = px(20.0) + px(8.0);
        let ppm = panel.px_per_mm(size.width);
        let mut min_button = (MIN_BUTTON_MM * ppm).ceil() as i32;
        if (min_button as f32) / ppm < MIN_BUTTON_MM {
            min_button += 1; // rounding: the check divides back
        }
        Self {
            width: size.width as i32,
            height: size.height as i32,
            scale,
            text_scale: if options.large_text { FontSizes::LARGE } else { 1.0 },
            margin: px(24.0),
            gap: px(14.0),
            header_h: bar + (fonts.small as f32 * 1.2) as i32 + px(10.0),
            button_h: px(if options.large_text { 84.0 } else { 76.0 }).max(min_button),
            min_button,
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
            pages: 0,
        };
        assert_eq!(layout.hit(15, 15), Some(ButtonId::Start));
        assert_eq!(layout.hit(150, 15), None);
        assert_eq!(layout.center_of(ButtonId::Cancel), Some(Point::new(249, 39)));
        assert_eq!(layout.hit(249, 39), Some(ButtonId::Cancel));
        assert_eq!(layout.center_of(ButtonId::Finish), None);
    }

    #[test]
    fn buttons_are_finger_sized_at_every_size() {
        for (w, h, mm) in [(800, 480, 154.0), (1280, 800, 217.0), (480, 320, 100.0), (800, 480, 300.0)] {
            for large_text in [false, true] {
                let panel = Panel::new(mm);
                let m =
                    Metrics::new(Size::new(w, h), &UiOptions { large_text, ..UiOptions::default() }, panel);
                assert!(m.button_h as f32 / panel.px_per_mm(w) >= MIN_BUTTON_MM, "{w}x{h}@{mm}");
                assert!(m.min_button as f32 / panel.px_per_mm(w) >= MIN_BUTTON_MM);
            }
        }
        // 154 mm over 800 px: 15 mm is 78 px.
        assert_eq!(Metrics::new(Size::new(800, 480), &UiOptions::default(), Panel::default()).min_button, 78);
        assert_eq!(Panel::new(f32::NAN).px_per_mm(800), Panel::default().px_per_mm(800));
    }

    #[test]
    fn splitting() {
        let cols = columns(rect(0, 0, 100, 10), 3, 5);
        assert_eq!(cols[2], rect(70, 0, 30, 10));
        let (top, bottom) = split_bottom(rect(0, 0, 10, 100), 30, 10);
        assert_eq!((top, bottom), (rect(0, 0, 10, 60), rect(0, 70, 10, 30)));
    }
}
