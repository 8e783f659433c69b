//! Linux fbdev driver: the geometry and pixel layout the driver reports (`FBIOGET_VSCREENINFO`,
//! `FBIOGET_FSCREENINFO`), the back buffer written to `/dev/fbN` on present.
//!
//! No mmap (that would need unsafe): a whole-frame `pwrite` per present is fast enough for
//! screens that change a few times a second.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};

use super::buffer::{draw_target_via_buffer, PixelBuffer};
use super::console::GraphicsConsole;
use super::{Display, DisplayError};
use crate::linux_ioctl;

/// Largest side accepted from the driver; anything bigger is a misread, not a kiosk screen.
const MAX_SIDE: u32 = 8192;
/// `<linux/fb.h>`: packed pixels, and the visuals whose pixel values are colours.
const FB_TYPE_PACKED_PIXELS: u32 = 0;
const FB_VISUAL_TRUECOLOR: u32 = 2;
const FB_VISUAL_DIRECTCOLOR: u32 = 4;

/// Where one colour channel sits in a pixel value (`struct fb_bitfield`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Channel {
    /// Bit position of the channel's least significant bit.
    pub offset: u32,
    /// Bits of the channel (5 and 6 for RGB565, 8 for XRGB8888).
    pub length: u32,
}

impl Channel {
    pub const fn new(offset: u32, length: u32) -> Self {
        Self { offset, length }
    }

    /// The channel's bits in a pixel value.
    fn mask(self) -> u32 {
        let ones = if self.length >= 32 { u32::MAX } else { (1u32 << self.length) - 1 };
        ones.checked_shl(self.offset).unwrap_or(0)
    }

    /// An 8-bit intensity at this channel's depth, in its place: its top bits for up to 8, its
    /// bits repeated below for more (a 10-bit channel gets 255 as 1023).
    fn place(self, value: u8) -> u32 {
        let wide = (u32::from(value) << 8) | u32::from(value);
        let scaled = wide.checked_shr(16 - self.length).unwrap_or(0);
        scaled.checked_shl(self.offset).unwrap_or(0)
    }
}

/// What the driver reports about the screen, from `fb_var_screeninfo` and `fb_fix_screeninfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScreenInfo {
    /// The visible resolution.
    pub xres: u32,
    pub yres: u32,
    /// Where the visible picture starts in the virtual screen (page flipping).
    pub xoffset: u32,
    pub yoffset: u32,
    pub bits_per_pixel: u32,
    /// Non-zero on a greyscale panel.
    pub grayscale: u32,
    pub red: Channel,
    pub green: Channel,
    pub blue: Channel,
    /// Set when the channel's most significant bit is on the right (never on a common panel).
    pub msb_right: bool,
    /// Bytes from one row to the next.
    pub line_length: u32,
    /// `FB_TYPE_*` and `FB_VISUAL_*`.
    pub fb_type: u32,
    pub visual: u32,
    /// Size of the framebuffer memory in bytes (0 when the driver does not say).
    pub smem_len: u32,
}

impl ScreenInfo {
    /// A true-colour packed-pixel screen of this size and layout, rows `line_length` apart.
    pub fn packed(xres: u32, yres: u32, bits_per_pixel: u32, rgb: [Channel; 3], line_length: u32) -> Self {
        let [red, green, blue] = rgb;
        Self {
            xres,
            yres,
            bits_per_pixel,
            red,
            green,
            blue,
            line_length,
            fb_type: FB_TYPE_PACKED_PIXELS,
            visual: FB_VISUAL_TRUECOLOR,
            ..Self::default()
        }
    }

    fn from_driver(var: &linux_ioctl::FbVarScreeninfo, fix: &linux_ioctl::FbFixScreeninfo) -> Self {
        let channel = |b: linux_ioctl::FbBitfield| Channel::new(b.offset, b.length);
        Self {
            xres: var.xres,
            yres: var.yres,
            xoffset: var.xoffset,
            yoffset: var.yoffset,
            bits_per_pixel: var.bits_per_pixel,
            grayscale: var.grayscale,
            red: channel(var.red),
            green: channel(var.green),
            blue: channel(var.blue),
            msb_right: [var.red, var.green, var.blue].iter().any(|b| b.msb_right != 0),
            line_length: fix.line_length,
            fb_type: fix.type_,
            visual: fix.visual,
            smem_len: fix.smem_len,
        }
    }
}

/// How a colour becomes the bytes of one pixel, from the driver's bitfields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelLayout {
    bytes: usize,
    red: Channel,
    green: Channel,
    blue: Channel,
    /// The bits no colour uses (X or alpha), set: some drivers treat them as alpha and would
    /// show nothing with 0.
    fill: u32,
}

impl PixelLayout {
    /// The layout of `bits_per_pixel`-bit pixels with these channels; `Err` says what the
    /// driver reported that cannot be drawn.
    pub fn new(bits_per_pixel: u32, red: Channel, green: Channel, blue: Channel) -> Result<Self, String> {
        if !matches!(bits_per_pixel, 16 | 24 | 32) {
            return Err(format!(
                "{bits_per_pixel} bits per pixel is not supported; configure 16, 24 or 32 bpp (fbset -depth 32)"
            ));
        }
        let mut used = 0u32;
        for (name, c) in [("red", red), ("green", green), ("blue", blue)] {
            if c.length == 0 || c.length > 16 || c.offset.saturating_add(c.length) > bits_per_pixel {
                return Err(format!(
                    "the {name} bitfield (offset {}, length {}) does not fit a {bits_per_pixel}-bit pixel; check the fbdev driver",
                    c.offset, c.length
                ));
            }
            if used & c.mask() != 0 {
                return Err(format!("the {name} bitfield overlaps another colour; check the fbdev driver"));
            }
            used |= c.mask();
        }
        let all = if bits_per_pixel == 32 { u32::MAX } else { (1u32 << bits_per_pixel) - 1 };
        // 16, 24 or 32: a whole number of bytes.
        let bytes = (bits_per_pixel / 8) as usize;
        Ok(Self { bytes, red, green, blue, fill: all & !used })
    }

    /// The layout of a screen the driver reported.
    pub fn from_screen_info(info: &ScreenInfo) -> Result<Self, String> {
        if info.fb_type != FB_TYPE_PACKED_PIXELS {
            return Err(format!("framebuffer type {} is not packed pixels; the kiosk draws on packed-pixel framebuffers only", info.fb_type));
        }
        if !matches!(info.visual, FB_VISUAL_TRUECOLOR | FB_VISUAL_DIRECTCOLOR) {
            return Err(format!(
                "visual {} is not true colour (a palette screen); configure 16, 24 or 32 bpp (fbset -depth 32)",
                info.visual
            ));
        }
        if info.grayscale != 0 {
            return Err("the framebuffer is greyscale; configure a colour mode (fbset -depth 32)".into());
        }
        if info.msb_right {
            return Err("the framebuffer's colour bits are reversed (msb_right); this layout is not supported".into());
        }
        Self::new(info.bits_per_pixel, info.red, info.green, info.blue)
    }

    pub fn bytes_per_pixel(&self) -> usize {
        self.bytes
    }

    /// The pixel value of a colour.
    pub fn value(&self, c: Rgb888) -> u32 {
        self.red.place(c.r()) | self.green.place(c.g()) | self.blue.place(c.b()) | self.fill
    }

    /// Writes one pixel: the value's low bytes, least significant first (fbdev's byte order on
    /// the little-endian machines kiosks run on).
    pub fn encode(&self, c: Rgb888, out: &mut [u8]) {
        let bytes = self.value(c).to_le_bytes();
        for (o, b) in out.iter_mut().zip(bytes) {
            *o = b;
        }
    }

    /// A name such as `XRGB8888` or `RGB565`: the channels from the most significant bit.
    pub fn name(&self) -> String {
        let mut channels = [('R', self.red), ('G', self.green), ('B', self.blue)];
        channels.sort_by_key(|(_, c)| std::cmp::Reverse(c.offset));
        let letters: String = channels.iter().map(|(l, _)| *l).collect();
        let lengths: String = channels.iter().map(|(_, c)| c.length.to_string()).collect();
        if self.fill == 0 {
            return format!("{letters}{lengths}");
        }
        let unused = self.fill.count_ones();
        format!("X{letters}{unused}{lengths}")
    }
}

/// A Linux framebuffer such as `fb0`.
#[derive(Debug)]
pub struct FramebufferDisplay {
    device: String,
    file: File,
    layout: PixelLayout,
    stride: usize,
    /// Where the visible picture starts in the device file.
    origin: u64,
    buffer: PixelBuffer,
    frame: Vec<u8>,
    /// Declared last: the console goes back to text after the last frame.
    console: Option<GraphicsConsole>,
}

impl FramebufferDisplay {
    /// Opens `/dev/<fb_name>`, and switches `console` (a tty such as `/dev/tty0`) to graphics
    /// mode while the display lives; a console that cannot be switched is logged, not fatal.
    pub fn open(fb_name: &str, console: Option<&Path>) -> Result<Self, DisplayError> {
        let valid = fb_name.starts_with("fb")
            && fb_name.len() > 2
            && fb_name[2..].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(DisplayError::Open {
                device: fb_name.to_owned(),
                reason: "not a framebuffer name; use a name like `fb0` (see /sys/class/graphics)".into(),
            });
        }
        let mut display = Self::open_device(&Path::new("/dev").join(fb_name))?;
        display.console = console.and_then(|tty| match GraphicsConsole::enter(tty) {
            Ok(console) => Some(console),
            Err(reason) => {
                tracing::warn!(tty = %tty.display(), %reason, "console left in text mode");
                None
            }
        });
        Ok(display)
    }

    /// Opens a framebuffer device by path, its layout read from the driver.
    pub fn open_device(device: &Path) -> Result<Self, DisplayError> {
        let name = device.display().to_string();
        let open_err = |reason: String| DisplayError::Open { device: name.clone(), reason };
        let file = OpenOptions::new().read(true).write(true).open(device).map_err(|e| {
            open_err(format!("{e}; check the device exists and this user is in the `video` group"))
        })?;
        let (var, fix) = linux_ioctl::screeninfo(&file).map_err(|e| {
            open_err(format!("reading its screen information (FBIOGET_VSCREENINFO): {e}; check it is a framebuffer device (ls /sys/class/graphics)"))
        })?;
        Self::from_file(file, name, &ScreenInfo::from_driver(&var, &fix))
    }

    /// A display on `file` (a framebuffer device, or any file in tests) laid out as `info` says.
    pub fn with_screen_info(device: &Path, info: &ScreenInfo) -> Result<Self, DisplayError> {
        let name = device.display().to_string();
        let file = OpenOptions::new().write(true).open(device).map_err(|e| DisplayError::Open {
            device: name.clone(),
            reason: format!("{e}; check the device exists and this user is in the `video` group"),
        })?;
        Self::from_file(file, name, info)
    }

    fn from_file(file: File, name: String, info: &ScreenInfo) -> Result<Self, DisplayError> {
        let open_err = |reason: String| DisplayError::Open { device: name.clone(), reason };
        let (width, height) = (info.xres, info.yres);
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(open_err(format!("unusable size {width}x{height}; check the display mode (fbset)")));
        }
        let layout = PixelLayout::from_screen_info(info).map_err(&open_err)?;
        let stride = info.line_length as usize;
        if stride < width as usize * layout.bytes_per_pixel() {
            return Err(open_err(format!(
                "line length {stride} is shorter than a {width}-pixel row; check the fbdev driver"
            )));
        }
        let origin = u64::from(info.yoffset) * stride as u64 + u64::from(info.xoffset) * layout.bytes_per_pixel() as u64;
        let end = origin + stride as u64 * u64::from(height);
        if info.smem_len != 0 && end > u64::from(info.smem_len) {
            return Err(open_err(format!(
                "the visible screen ends at byte {end}, past the {} bytes of framebuffer memory; check the display mode (fbset)",
                info.smem_len
            )));
        }
        tracing::info!(device = %name, width, height, layout = %layout.name(), stride, "framebuffer opened");
        Ok(Self {
            device: name,
            file,
            layout,
            stride,
            origin,
            buffer: PixelBuffer::new(width, height),
            frame: vec![0; stride * height as usize],
            console: None,
        })
    }

    pub fn layout(&self) -> PixelLayout {
        self.layout
    }

    /// For diagnostics: `/dev/fb0 800×480 XRGB8888, console /dev/tty0 in graphics mode`.
    pub fn describe(&self) -> String {
        let console = match &self.console {
            Some(c) => format!("console {} in graphics mode", c.tty()),
            None => "console not switched".into(),
        };
        format!("{} {}×{} {}, {console}", self.device, self.buffer.width(), self.buffer.size().height, self.layout.name())
    }

    /// Converts the back buffer into the device layout (rows padded to the stride).
    fn encode_frame(&mut self) {
        let bpp = self.layout.bytes_per_pixel();
        let width = self.buffer.width() as usize;
        if width == 0 {
            return;
        }
        for (row_pixels, row_bytes) in
            self.buffer.pixels().chunks(width).zip(self.frame.chunks_mut(self.stride))
        {
            for (pixel, out) in row_pixels.iter().zip(row_bytes.chunks_exact_mut(bpp)) {
                self.layout.encode(*pixel, out);
            }
        }
    }
}

draw_target_via_buffer!(FramebufferDisplay);

impl Display for FramebufferDisplay {
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError> {
        self.encode_frame();
        self.file.write_all_at(&self.frame, self.origin).map_err(|e| DisplayError::Write {
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

    const RGB565: [Channel; 3] = [Channel::new(11, 5), Channel::new(5, 6), Channel::new(0, 5)];
    const BGR565: [Channel; 3] = [Channel::new(0, 5), Channel::new(5, 6), Channel::new(11, 5)];
    const XRGB8888: [Channel; 3] = [Channel::new(16, 8), Channel::new(8, 8), Channel::new(0, 8)];
    const XBGR8888: [Channel; 3] = [Channel::new(0, 8), Channel::new(8, 8), Channel::new(16, 8)];
    const RGB888: [Channel; 3] = [Channel::new(16, 8), Channel::new(8, 8), Channel::new(0, 8)];

    /// A 2x1 screen of this layout on a temporary file: red at (0, 0), (1, 2, 3) at (1, 0).
    fn present_two_pixels(bpp: u32, rgb: [Channel; 3], line_length: u32) -> (Vec<u8>, String) {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("fb0");
        std::fs::write(&dev, b"").unwrap();
        let mut d = FramebufferDisplay::with_screen_info(&dev, &ScreenInfo::packed(2, 1, bpp, rgb, line_length)).unwrap();
        d.clear(Rgb888::BLUE).unwrap();
        Pixel(Point::new(0, 0), Rgb888::RED).draw(&mut d).unwrap();
        d.fill_solid(&Rectangle::new(Point::new(1, 0), Size::new(1, 1)), Rgb888::new(1, 2, 3)).unwrap();
        d.present("t").unwrap();
        (std::fs::read(&dev).unwrap(), d.layout().name())
    }

    #[test]
    fn each_layout_is_encoded_from_its_bitfields() {
        // (1, 2, 3) is (0, 0, 0) at 5/6/5 bits; red is 0xF800 in RGB565, 0x001F in BGR565.
        assert_eq!(present_two_pixels(16, RGB565, 4), (vec![0x00, 0xF8, 0x00, 0x00], "RGB565".into()));
        assert_eq!(present_two_pixels(16, BGR565, 4), (vec![0x1F, 0x00, 0x00, 0x00], "BGR565".into()));
        assert_eq!(
            present_two_pixels(32, XRGB8888, 8),
            (vec![0, 0, 255, 255, 3, 2, 1, 255], "XRGB8888".into()),
            "bytes B, G, R, X with X set"
        );
        assert_eq!(
            present_two_pixels(32, XBGR8888, 8),
            (vec![255, 0, 0, 255, 1, 2, 3, 255], "XBGR8888".into()),
            "bytes R, G, B, X"
        );
        assert_eq!(present_two_pixels(24, RGB888, 6), (vec![0, 0, 255, 3, 2, 1], "RGB888".into()));
        // The row padding past the last pixel is left alone.
        assert_eq!(present_two_pixels(16, RGB565, 6).0, vec![0x00, 0xF8, 0x00, 0x00, 0, 0]);
    }

    #[test]
    fn deeper_channels_and_alpha_bits() {
        // 30-bit colour (2 bits of X on top): 255 is all ten bits, 128 is 0b1000_0000_10.
        let layout = PixelLayout::new(32, Channel::new(20, 10), Channel::new(10, 10), Channel::new(0, 10)).unwrap();
        assert_eq!(layout.value(Rgb888::new(255, 0, 128)), 0xC000_0000 | (0x3FF << 20) | 0b10_0000_0010);
        assert_eq!(layout.name(), "XRGB2101010");
        let rgb565 = PixelLayout::new(16, RGB565[0], RGB565[1], RGB565[2]).unwrap();
        assert_eq!(rgb565.value(Rgb888::WHITE), 0xFFFF);
        assert_eq!(rgb565.value(Rgb888::new(8, 4, 8)), (1 << 11) | (1 << 5) | 1, "one step of each channel");
    }

    #[test]
    fn page_flipped_screens_are_drawn_at_their_offset() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("fb0");
        std::fs::write(&dev, b"").unwrap();
        let info = ScreenInfo { yoffset: 2, ..ScreenInfo::packed(1, 1, 32, XRGB8888, 4) };
        let mut d = FramebufferDisplay::with_screen_info(&dev, &info).unwrap();
        assert_eq!(d.size(), Size::new(1, 1));
        d.clear(Rgb888::GREEN).unwrap();
        d.present("t").unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), [0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 255]);
        let beyond = ScreenInfo { smem_len: 8, ..info };
        let err = FramebufferDisplay::with_screen_info(&dev, &beyond).unwrap_err().to_string();
        assert!(err.contains("past the 8 bytes"), "{err}");
    }

    #[test]
    fn what_cannot_be_drawn_is_refused_with_a_clear_reason() {
        let dir = tempfile::tempdir().unwrap();
        let dev = dir.path().join("fb0");
        std::fs::write(&dev, b"").unwrap();
        let open = |info: ScreenInfo| FramebufferDisplay::with_screen_info(&dev, &info).unwrap_err().to_string();
        let good = ScreenInfo::packed(800, 480, 32, XRGB8888, 3200);
        assert!(open(ScreenInfo { bits_per_pixel: 8, ..good }).contains("8 bits per pixel is not supported"));
        assert!(open(ScreenInfo { line_length: 100, ..good }).contains("line length"));
        assert!(open(ScreenInfo { xres: 0, ..good }).contains("unusable size"));
        assert!(open(ScreenInfo { visual: 3, ..good }).contains("not true colour"));
        assert!(open(ScreenInfo { grayscale: 1, ..good }).contains("greyscale"));
        assert!(open(ScreenInfo { fb_type: 1, ..good }).contains("packed pixels"));
        assert!(open(ScreenInfo { msb_right: true, ..good }).contains("msb_right"));
        assert!(open(ScreenInfo { green: Channel::new(12, 8), ..good }).contains("overlaps"));
        assert!(open(ScreenInfo { blue: Channel::new(28, 8), ..good }).contains("blue bitfield"));
        assert!(open(ScreenInfo { red: Channel::new(16, 0), ..good }).contains("red bitfield"));
        assert!(FramebufferDisplay::open("../etc/passwd", None).is_err());
        // A file that is no framebuffer device: the ioctl says so.
        let err = FramebufferDisplay::open_device(&dev).unwrap_err().to_string();
        assert!(err.contains("FBIOGET_VSCREENINFO") && err.contains("framebuffer device"), "{err}");
        let err = FramebufferDisplay::open_device(Path::new("/nonexistent/fb7")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/fb7") && err.contains("video"), "{err}");
    }
}
