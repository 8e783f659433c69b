//! Colour palettes: a calm bank look and a high-contrast one for weak eyesight.

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};

/// Every colour a screen uses, named by role.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub background: Rgb888,
    pub title: Rgb888,
    pub text: Rgb888,
    pub muted: Rgb888,
    pub header_bg: Rgb888,
    pub header_text: Rgb888,
    pub header_muted: Rgb888,
    /// Drawn under the header in high contrast so its edge stays visible on black.
    pub header_rule: Option<Rgb888>,
    pub step_done: Rgb888,
    pub step_current: Rgb888,
    pub step_todo: Rgb888,
    pub primary_bg: Rgb888,
    pub primary_text: Rgb888,
    pub secondary_bg: Rgb888,
    pub secondary_text: Rgb888,
    pub outline: Rgb888,
    pub outline_width: u32,
    /// A button that cannot be pressed yet.
    pub disabled_bg: Rgb888,
    pub disabled_text: Rgb888,
    pub surface: Rgb888,
    pub surface_border: Rgb888,
    pub preview_bg: Rgb888,
    pub guide: Rgb888,
    pub face_box: Rgb888,
    pub passport: Rgb888,
    pub passport_detail: Rgb888,
    pub reader: Rgb888,
    pub reader_top: Rgb888,
    /// A field typed wrong (keyed-in MRZ), and one typed right.
    pub error: Rgb888,
    pub ok: Rgb888,
}

impl Theme {
    pub fn new(high_contrast: bool) -> Self {
        if high_contrast {
            Self::high_contrast()
        } else {
            Self::normal()
        }
    }

    pub fn normal() -> Self {
        Self {
            background: Rgb888::WHITE,
            title: Rgb888::new(0, 40, 95),
            text: Rgb888::new(20, 30, 48),
            muted: Rgb888::new(74, 85, 104),
            header_bg: Rgb888::new(0, 47, 108),
            header_text: Rgb888::WHITE,
            header_muted: Rgb888::new(176, 196, 224),
            header_rule: None,
            step_done: Rgb888::new(150, 200, 255),
            step_current: Rgb888::new(255, 196, 0),
            step_todo: Rgb888::new(60, 95, 150),
            primary_bg: Rgb888::new(0, 87, 184),
            primary_text: Rgb888::WHITE,
            secondary_bg: Rgb888::WHITE,
            secondary_text: Rgb888::new(0, 70, 150),
            outline: Rgb888::new(0, 87, 184),
            outline_width: 2,
            disabled_bg: Rgb888::new(226, 230, 236),
            disabled_text: Rgb888::new(92, 100, 114),
            surface: Rgb888::new(243, 246, 250),
            surface_border: Rgb888::new(150, 165, 185),
            preview_bg: Rgb888::new(38, 44, 56),
            guide: Rgb888::WHITE,
            face_box: Rgb888::new(0, 200, 120),
            passport: Rgb888::new(128, 24, 48),
            passport_detail: Rgb888::new(222, 180, 70),
            reader: Rgb888::new(70, 78, 92),
            reader_top: Rgb888::new(110, 120, 138),
            error: Rgb888::new(176, 0, 32),
            ok: Rgb888::new(0, 110, 50),
        }
    }

    pub fn high_contrast() -> Self {
        let yellow = Rgb888::new(255, 230, 0);
        Self {
            background: Rgb888::BLACK,
            title: yellow,
            text: Rgb888::WHITE,
            muted: Rgb888::new(225, 225, 225),
            header_bg: Rgb888::BLACK,
            header_text: Rgb888::WHITE,
            header_muted: Rgb888::new(200, 200, 200),
            header_rule: Some(Rgb888::WHITE),
            step_done: Rgb888::WHITE,
            step_current: yellow,
            step_todo: Rgb888::new(90, 90, 90),
            primary_bg: yellow,
            primary_text: Rgb888::BLACK,
            secondary_bg: Rgb888::BLACK,
            secondary_text: yellow,
            outline: yellow,
            outline_width: 4,
            disabled_bg: Rgb888::BLACK,
            disabled_text: Rgb888::new(150, 150, 150),
            surface: Rgb888::BLACK,
            surface_border: Rgb888::WHITE,
            preview_bg: Rgb888::BLACK,
            guide: yellow,
            face_box: Rgb888::WHITE,
            passport: Rgb888::BLACK,
            passport_detail: yellow,
            reader: Rgb888::new(60, 60, 60),
            reader_top: Rgb888::WHITE,
            error: Rgb888::new(255, 130, 130),
            ok: Rgb888::new(130, 255, 130),
        }
    }

    /// (foreground, background) pairs that carry text, for the contrast check.
    pub fn text_pairs(&self) -> [(Rgb888, Rgb888); 8] {
        [
            (self.title, self.background),
            (self.text, self.background),
            (self.muted, self.background),
            (self.header_text, self.header_bg),
            (self.header_muted, self.header_bg),
            (self.primary_text, self.primary_bg),
            (self.secondary_text, self.secondary_bg),
            // Greyed, yet still readable: the label says what will become possible.
            (self.disabled_text, self.disabled_bg),
        ]
    }
}

/// WCAG 2 contrast ratio, 1.0 ..= 21.0.
pub fn contrast_ratio(a: Rgb888, b: Rgb888) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

fn luminance(c: Rgb888) -> f64 {
    let lin = |v: u8| {
        let s = f64::from(v) / 255.0;
        if s <= 0.03928 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_meets_wcag_aa_and_high_contrast_meets_aaa() {
        for (fg, bg) in Theme::normal().text_pairs() {
            assert!(contrast_ratio(fg, bg) >= 4.5, "{fg:?} on {bg:?}");
        }
        for (fg, bg) in Theme::high_contrast().text_pairs() {
            assert!(contrast_ratio(fg, bg) >= 7.0, "{fg:?} on {bg:?}");
        }
        assert!((contrast_ratio(Rgb888::BLACK, Rgb888::WHITE) - 21.0).abs() < 0.01);
    }
}
