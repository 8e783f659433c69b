//! An in-memory display for tests and demos; can leave every presented screen as a PNG.

use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};

use super::buffer::{draw_target_via_buffer, PixelBuffer};
use super::{Display, DisplayError};

/// RGB back buffer kept in memory. `present` records the screen id and, with an output
/// directory, writes `NN-<screen_id>.png` so a demo run leaves a picture of every screen.
#[derive(Debug, Clone)]
pub struct MemoryDisplay {
    buffer: PixelBuffer,
    output_dir: Option<PathBuf>,
    presented: Vec<String>,
}

impl MemoryDisplay {
    pub fn new(width: u32, height: u32) -> Self {
        Self { buffer: PixelBuffer::new(width, height), output_dir: None, presented: Vec::new() }
    }

    /// Every `present` then writes a numbered PNG into `dir` (created when missing).
    pub fn with_output_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.output_dir = Some(dir.into());
        self
    }

    /// Colour at (x, y) of the back buffer; `None` outside the screen.
    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb888> {
        self.buffer.get(x, y)
    }

    /// Screen ids passed to `present`, oldest first.
    pub fn presented(&self) -> &[String] {
        &self.presented
    }

    /// The back buffer as packed RGB bytes, row by row.
    pub fn rgb_bytes(&self) -> Vec<u8> {
        self.buffer.pixels().iter().flat_map(|p| [p.r(), p.g(), p.b()]).collect()
    }

    /// The back buffer encoded as an 8-bit RGB PNG.
    pub fn to_png(&self) -> Result<Vec<u8>, DisplayError> {
        let encode_err = |e: png::EncodingError| DisplayError::Encode { reason: e.to_string() };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, self.buffer.width(), self.buffer.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(encode_err)?;
        writer.write_image_data(&self.rgb_bytes()).map_err(encode_err)?;
        writer.finish().map_err(encode_err)?;
        Ok(out)
    }

    fn write_snapshot(&self, dir: &Path, sequence: usize, screen_id: &str) -> Result<(), DisplayError> {
        let path = dir.join(format!("{sequence:02}-{}.png", file_safe(screen_id)));
        let write_err = |e: std::io::Error| DisplayError::Write {
            device: path.display().to_string(),
            reason: format!("{e}; check the output directory exists and is writable"),
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        std::fs::write(&path, self.to_png()?).map_err(write_err)
    }
}

/// Keeps a screen id usable as a file name whatever the caller passed.
fn file_safe(id: &str) -> String {
    let safe: String =
        id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if safe.is_empty() {
        "screen".to_owned()
    } else {
        safe
    }
}

draw_target_via_buffer!(MemoryDisplay);

impl Display for MemoryDisplay {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        if let Some(dir) = &self.output_dir {
            self.write_snapshot(dir, self.presented.len() + 1, screen_id)?;
        }
        tracing::debug!(screen_id, "memory display presented");
        self.presented.push(screen_id.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::{prelude::*, primitives::Rectangle};

    #[test]
    fn draws_presents_and_writes_numbered_pngs() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = MemoryDisplay::new(8, 4).with_output_dir(dir.path().join("screens"));
        d.clear(Rgb888::WHITE).unwrap();
        d.fill_solid(&Rectangle::new(Point::new(1, 1), Size::new(2, 2)), Rgb888::BLUE).unwrap();
        Pixel(Point::new(7, 3), Rgb888::RED).draw(&mut d).unwrap();
        assert_eq!(d.pixel(1, 2), Some(Rgb888::BLUE));
        assert_eq!(d.pixel(7, 3), Some(Rgb888::RED));
        assert_eq!(d.pixel(0, 0), Some(Rgb888::WHITE));
        assert_eq!(d.pixel(8, 0), None);
        d.present("welcome").unwrap();
        d.present("face/../capture").unwrap();
        assert_eq!(d.presented(), ["welcome", "face/../capture"]);
        let first = std::fs::read(dir.path().join("screens/01-welcome.png")).unwrap();
        assert_eq!(first, d.to_png().unwrap());
        assert!(dir.path().join("screens/02-face____capture.png").exists());
    }

    #[test]
    fn png_decodes_back_to_the_same_pixels() {
        let mut d = MemoryDisplay::new(3, 2);
        d.clear(Rgb888::new(10, 20, 30)).unwrap();
        let png = d.to_png().unwrap();
        let decoder = png::Decoder::new(png.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&buf[..3], &[10, 20, 30]);
    }
}
