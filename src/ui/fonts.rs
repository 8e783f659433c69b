//! DejaVu Sans loaded once from the system (Debian `fonts-dejavu-core`), with the sizes
//! each screen uses.

use std::path::Path;
use std::sync::OnceLock;

use rusttype::Font;

use super::error::UiError;

/// Where Debian's `fonts-dejavu-core` puts the fonts.
pub const DEJAVU_DIR: &str = "/usr/share/fonts/truetype/dejavu";

/// Regular and bold faces; cheap to clone (shared data).
#[derive(Clone)]
pub struct Fonts {
    pub regular: Font<'static>,
    pub bold: Font<'static>,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts(DejaVu Sans)")
    }
}

impl Fonts {
    /// Loads `DejaVuSans.ttf` and `DejaVuSans-Bold.ttf` from `dir`.
    pub fn load_from_dir(dir: &Path) -> Result<Self, UiError> {
        Ok(Self {
            regular: load(&dir.join("DejaVuSans.ttf"))?,
            bold: load(&dir.join("DejaVuSans-Bold.ttf"))?,
        })
    }

    /// The system fonts, read from disk on first use only.
    pub fn system() -> Result<&'static Fonts, UiError> {
        static FONTS: OnceLock<Fonts> = OnceLock::new();
        if let Some(fonts) = FONTS.get() {
            return Ok(fonts);
        }
        let fonts = Self::load_from_dir(Path::new(DEJAVU_DIR))?;
        tracing::debug!(dir = DEJAVU_DIR, "fonts loaded");
        Ok(FONTS.get_or_init(|| fonts))
    }
}

fn load(path: &Path) -> Result<Font<'static>, UiError> {
    let bytes = std::fs::read(path)
        .map_err(|e| UiError::FontMissing { path: path.to_owned(), reason: e.to_string() })?;
    Font::try_from_vec(bytes).ok_or_else(|| UiError::FontInvalid { path: path.to_owned() })
}

/// Pixel sizes of the text roles, already scaled for the screen and large-text mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FontSizes {
    pub title: u32,
    pub body: u32,
    pub small: u32,
    pub button: u32,
}

impl FontSizes {
    /// How much larger large-text mode is.
    pub const LARGE: f32 = 1.4;

    /// Sizes chosen at 800x480 for reading at arm's length; `scale` is relative to that.
    pub fn new(scale: f32, large_text: bool) -> Self {
        let k = scale * if large_text { Self::LARGE } else { 1.0 };
        let px = |base: f32| (base * k).round().max(10.0) as u32;
        Self { title: px(32.0), body: px(24.0), small: px(18.0), button: px(26.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_font_names_the_debian_package() {
        let err = Fonts::load_from_dir(Path::new("/nonexistent")).unwrap_err().to_string();
        assert!(err.contains("fonts-dejavu-core") && err.contains("DejaVuSans.ttf"), "{err}");
    }

    #[test]
    fn invalid_font_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("DejaVuSans.ttf"), b"not a font").unwrap();
        assert!(matches!(Fonts::load_from_dir(dir.path()), Err(UiError::FontInvalid { .. })));
    }

    #[test]
    fn large_text_is_about_forty_percent_bigger() {
        let normal = FontSizes::new(1.0, false);
        let large = FontSizes::new(1.0, true);
        assert_eq!(normal.body, 24);
        assert_eq!(large.body, 34);
        assert!(FontSizes::new(1.6, false).title > normal.title);
    }
}
