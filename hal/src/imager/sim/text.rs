//! Text on an OpenCV canvas from TrueType/OpenType fonts (rusttype): OpenCV's own Hershey fonts
//! have no Cyrillic and no OCR-B.

use opencv::core::{Mat, Vec3b};
use opencv::prelude::*;
use rusttype::{point, Font, Scale};

use crate::imager::ImagerError;

pub struct Fonts {
    pub regular: Font<'static>,
    pub bold: Font<'static>,
    /// OCR-B (Debian `fonts-ocr-b`), the machine-readable record's typeface.
    pub ocr_b: Font<'static>,
}

pub const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
pub const DEJAVU_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf";
pub const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";

fn load(path: &str) -> Result<Font<'static>, ImagerError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ImagerError::Render(format!("font {path}: {e} (run scripts/setup: fonts-dejavu-core, fonts-ocr-b)"))
    })?;
    Font::try_from_vec(bytes)
        .ok_or_else(|| ImagerError::Render(format!("font {path} is not a TrueType/OpenType font")))
}

impl Fonts {
    pub fn load() -> Result<Self, ImagerError> {
        Ok(Self { regular: load(DEJAVU)?, bold: load(DEJAVU_BOLD)?, ocr_b: load(OCR_B)? })
    }
}

/// How a run of text is drawn: cap height about `height` px, `colour` (BGR) blended by glyph
/// coverage; `pitch` forces a fixed advance per character (the record's), else the font's own.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub height: f32,
    pub colour: [u8; 3],
    pub pitch: Option<f32>,
}

/// Draws `text` with its baseline's left end at `at` (px).
pub fn draw(
    canvas: &mut Mat,
    font: &Font<'_>,
    text: &str,
    at: (f32, f32),
    style: Style,
) -> Result<(), ImagerError> {
    let Style { height, colour, pitch } = style;
    let (x, y) = at;
    let scale = Scale::uniform(height * 1.4);
    let (cols, rows) = (canvas.cols(), canvas.rows());
    let mut pen = x;
    for c in text.chars() {
        let glyph = font.glyph(c).scaled(scale);
        let advance = glyph.h_metrics().advance_width;
        let positioned = glyph.positioned(point(pen, y));
        if let Some(bb) = positioned.pixel_bounding_box() {
            let mut failure = None;
            positioned.draw(|gx, gy, coverage| {
                let (px, py) = (bb.min.x + gx as i32, bb.min.y + gy as i32);
                if px < 0 || py < 0 || px >= cols || py >= rows || failure.is_some() {
                    return;
                }
                match canvas.at_2d_mut::<Vec3b>(py, px) {
                    Ok(pixel) => {
                        for (channel, &target) in colour.iter().enumerate() {
                            let old = f32::from(pixel[channel]);
                            pixel[channel] =
                                (old + (f32::from(target) - old) * coverage.clamp(0.0, 1.0)).round() as u8;
                        }
                    }
                    Err(e) => failure = Some(e.to_string()),
                }
            });
            if let Some(reason) = failure {
                return Err(ImagerError::Render(reason));
            }
        }
        pen += pitch.unwrap_or(advance);
    }
    Ok(())
}
