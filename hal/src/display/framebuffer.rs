//! Linux fbdev driver: geometry from sysfs, the back buffer written to `/dev/fbN` on present.
//!
//! No mmap (that would need unsafe): a whole-frame `pwrite` per present is fast enough for
//! screens that change a few times a second.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};

use super::buffer::{draw_target_via_buffer, PixelBuffer};
use super::{Display, DisplayError};

/// Largest side accepted from sysfs; anything bigger is a misread, not a kiosk screen.
const MAX_SIDE: u32 = 8192;

/// Pixel layouts fbdev uses on little-endian machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 16 bpp, RGB565 little-endian.
    Rgb565,
    /// 24 bpp, bytes B, G, R.
    Bgr888,
    /// 32 bpp, bytes B, G, R, X.
    Bgrx8888,
}

impl PixelFormat {
    fn from_bpp(bpp: u32) -> Option<Self> {
        match bpp {
            16 => Some(Self::Rgb565),
            24 => Some(Self::Bgr888),
            32 => Some(Self::Bgrx8888),
            _ => None,
        }
    }

    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Rgb565 => 2,
            Self::Bgr888 => 3,
            Self::Bgrx8888 => 4,
        }
    }

    fn encode(self, c: Rgb888, out: &mut [u8]) {
        match self {
            Self::Rgb565 => {
                let v = (u16::from(c.r() >> 3) << 11) | (u16::from(c.g() >> 2) << 5) | u16::from(c.b() >> 3);
                out.copy_from_slice(&v.to_le_bytes());
            }
            Self::Bgr888 => out.copy_from_slice(&[c.b(), c.g(), c.r()]),
            // X set to 0xFF: some drivers treat it as alpha and would show nothing with 0.
            Self::Bgrx8888 => out.copy_from_slice(&[c.b(), c.g(), c.r(), 0xFF]),
        }
    }
}

/// A Linux framebuffer such as `fb0`.
#[derive(Debug)]
pub struct FramebufferDisplay {
    device: String,
    file: File,
    format: PixelFormat,
    stride: usize,
    buffer: PixelBuffer,
    frame: Vec<u8>,
}

impl FramebufferDisplay {
    /// Opens `/dev/<fb_name>` with geometry from `/sys/class/graphics/<fb_name>/`.
    pub fn open(fb_name: &str) -> Result<Self, DisplayError> {
        let valid = fb_name.starts_with("fb")
            && fb_name.len() > 2
            && fb_name[2..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(DisplayError::Open {
                device: fb_name.to_owned(),
                reason: "not a framebuffer name; use a name like `fb0` (see /sys/class/graphics)".into(),
            });
        }
        Self::open_at(&Path::new("/sys/class/graphics").join(fb_name), &Path::new("/dev").join(fb_name))
    }

    /// Same as [`open`](Self::open) with explicit sysfs directory and device path (tests).
    pub fn open_at(sysfs_dir: &Path, device: &Path) -> Result<Self, DisplayError> {
        let name = device.display().to_string();
        let open_err = |reason: String| DisplayError::Open { device: name.clone(), reason };
        let (mut width, mut height) = parse_pair(&read_attr(sysfs_dir, "virtual_size").map_err(&open_err)?)
            .ok_or_else(|| {
            open_err(format!("{}/virtual_size is not `W,H`; check the fbdev driver", sysfs_dir.display()))
        })?;
        // The virtual size may be doubled for page flipping; the visible mode is what we draw.
        if let Some((w, h)) = read_attr(sysfs_dir, "modes").ok().as_deref().and_then(parse_mode) {
            width = width.min(w);
            height = height.min(h);
        }
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(open_err(format!("unusable size {width}x{height}; check the display mode (fbset)")));
        }
        let bpp: u32 = parse_num(&read_attr(sysfs_dir, "bits_per_pixel").map_err(&open_err)?)
            .ok_or_else(|| open_err("bits_per_pixel is not a number; check the fbdev driver".into()))?;
        let format = PixelFormat::from_bpp(bpp).ok_or_else(|| {
            open_err(format!(
                "{bpp} bits per pixel is not supported; configure 16, 24 or 32 bpp (fbset -depth 32)"
            ))
        })?;
        let stride: usize = parse_num(&read_attr(sysfs_dir, "stride").map_err(&open_err)?)
            .ok_or_else(|| open_err("stride is not a number; check the fbdev driver".into()))?;
        if stride < width as usize * format.bytes_per_pixel() {
            return Err(open_err(format!(
                "stride {stride} is shorter than a {width}-pixel row; check the fbdev driver"
            )));
        }
        let file = OpenOptions::new().write(true).open(device).map_err(|e| {
            open_err(format!("{e}; check the device exists and this user is in the `video` group"))
        })?;
        tracing::info!(device = %name, width, height, bpp, stride, "framebuffer opened");
        Ok(Self {
            device: name,
            file,
            format,
            stride,
            buffer: PixelBuffer::new(width, height),
            frame: vec![0; stride * height as usize],
        })
    }

    pub fn format(&self) -> PixelFormat {
        self.format
    }

    /// Converts the back buffer into the device layout (rows padded to the stride).
    fn encode_frame(&mut self) {
        let bpp = self.format.bytes_per_pixel();
        let width = self.buffer.width() as usize;
        if width == 0 {
            return;
        }
        for (row_pixels, row_bytes) in
            self.buffer.pixels().chunks(width).zip(self.frame.chunks_mut(self.stride))
        {
            for (pixel, out) in row_pixels.iter().zip(row_bytes.chunks_exact_mut(bpp)) {
                self.format.encode(*pixel, out);
            }
        }
    }
}

fn read_attr(dir: &Path, attr: &str) -> Result<String, String> {
    let path: PathBuf = dir.join(attr);
    std::fs::read_to_string(&path).map_err(|e| {
        format!("{} could not be read ({e}); check the framebuffer driver is loaded", path.display())
    })
}

fn parse_num<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

/// `"800,480\n"` → (800, 480).
fn parse_pair(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(',')?;
    Some((parse_num(w)?, parse_num(h)?))
}

/// First line of `modes`, e.g. `"U:800x480p-0"` → (800, 480).
fn parse_mode(s: &str) -> Option<(u32, u32)> {
    let line = s.lines().next()?;
    let geometry = line.split_once(':').map_or(line, |(_, g)| g);
    let (w, rest) = geometry.split_once('x')?;
    let h: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((parse_num(w)?, parse_num(&h)?))
}

draw_target_via_buffer!(FramebufferDisplay);

impl Display for FramebufferDisplay {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        self.encode_frame();
        self.file.write_all_at(&self.frame, 0).map_err(|e| DisplayError::Write {
            device: self.device.clone(),
            reason: format!("{e}; check the framebuffer is still present"),
        })?;
        tracing::debug!(screen_id, "framebuffer presented");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::{prelude::*, primitives::Rectangle};

    fn fake_fb(
        size: &str,
        bpp: &str,
        stride: &str,
        modes: Option<&str>,
    ) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("fb0");
        std::fs::create_dir(&sys).unwrap();
        std::fs::write(sys.join("virtual_size"), size).unwrap();
        std::fs::write(sys.join("bits_per_pixel"), bpp).unwrap();
        std::fs::write(sys.join("stride"), stride).unwrap();
        if let Some(m) = modes {
            std::fs::write(sys.join("modes"), m).unwrap();
        }
        let dev = dir.path().join("dev-fb0");
        std::fs::write(&dev, b"").unwrap();
        (dir, sys, dev)
    }

    fn draw_red_and_blue(d: &mut FramebufferDisplay) {
        d.clear(Rgb888::BLUE).unwrap();
        Pixel(Point::new(0, 0), Rgb888::RED).draw(d).unwrap();
    }

    #[test]
    fn writes_bgrx_with_stride_padding() {
        let (_tmp, sys, dev) = fake_fb("2,4\n", "32\n", "12\n", Some("U:2x2p-0\n"));
        let mut d = FramebufferDisplay::open_at(&sys, &dev).unwrap();
        assert_eq!(d.size(), Size::new(2, 2), "visible mode wins over the doubled virtual size");
        draw_red_and_blue(&mut d);
        d.present("test").unwrap();
        let bytes = std::fs::read(&dev).unwrap();
        assert_eq!(bytes.len(), 24);
        assert_eq!(&bytes[0..4], &[0, 0, 255, 255], "red as B,G,R,X");
        assert_eq!(&bytes[4..8], &[255, 0, 0, 255], "blue as B,G,R,X");
        assert_eq!(&bytes[8..12], &[0, 0, 0, 0], "stride padding untouched");
    }

    #[test]
    fn writes_rgb565_and_bgr888() {
        let (_tmp, sys, dev) = fake_fb("2,1", "16", "4", None);
        let mut d = FramebufferDisplay::open_at(&sys, &dev).unwrap();
        draw_red_and_blue(&mut d);
        d.present("t").unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), [0x00, 0xF8, 0x1F, 0x00]);

        let (_tmp, sys, dev) = fake_fb("2,1", "24", "6", None);
        let mut d = FramebufferDisplay::open_at(&sys, &dev).unwrap();
        draw_red_and_blue(&mut d);
        d.fill_solid(&Rectangle::new(Point::new(1, 0), Size::new(1, 1)), Rgb888::new(1, 2, 3)).unwrap();
        d.present("t").unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), [0, 0, 255, 3, 2, 1]);
    }

    #[test]
    fn rejects_bad_geometry_with_a_clear_reason() {
        let (_tmp, sys, dev) = fake_fb("800,480", "8", "800", None);
        let err = FramebufferDisplay::open_at(&sys, &dev).unwrap_err().to_string();
        assert!(err.contains("8 bits per pixel is not supported"), "{err}");
        let (_tmp, sys, dev) = fake_fb("800,480", "32", "100", None);
        assert!(FramebufferDisplay::open_at(&sys, &dev).unwrap_err().to_string().contains("stride"));
        let (_tmp, sys, dev) = fake_fb("garbage", "32", "3200", None);
        assert!(FramebufferDisplay::open_at(&sys, &dev).is_err());
        assert!(FramebufferDisplay::open("../etc/passwd").is_err());
        assert!(FramebufferDisplay::open_at(Path::new("/nonexistent"), &dev)
            .unwrap_err()
            .to_string()
            .contains("virtual_size"));
    }

    #[test]
    fn parses_modes() {
        assert_eq!(parse_mode("U:1280x800p-60\nU:800x480p-0\n"), Some((1280, 800)));
        assert_eq!(parse_mode("S:640x480\n"), Some((640, 480)));
        assert_eq!(parse_mode(""), None);
    }
}
