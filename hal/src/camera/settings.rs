//! What a V4L2 camera is asked for, as OpenCV `VideoCapture` properties: a pure mapping, so the
//! order and the values the driver gets are tested without a camera.

use opencv::videoio;

/// A pixel format of the device (`VIDIOC_S_FMT`), as its FourCC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraFormat {
    /// Motion JPEG: full frame rate at high resolutions over USB 2.
    Mjpg,
    /// Packed YUV 4:2:2, uncompressed.
    Yuyv,
}

impl CameraFormat {
    pub fn fourcc(self) -> &'static str {
        match self {
            Self::Mjpg => "MJPG",
            Self::Yuyv => "YUYV",
        }
    }
}

/// How a control the device may have (exposure, focus) is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// Not touched: the device keeps its own setting.
    Device,
    Auto,
    /// At this value, in the driver's units.
    Manual(f64),
}

/// Everything asked of the camera when it is opened.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraSettings {
    pub width: u32,
    pub height: u32,
    /// `None`: the format the device has.
    pub format: Option<CameraFormat>,
    /// `None`: the device's own frame rate.
    pub fps: Option<u32>,
    pub exposure: Control,
    pub focus: Control,
}

impl CameraSettings {
    /// The resolution alone, every other setting left as the device has it.
    pub fn resolution(width: u32, height: u32) -> Self {
        Self { width, height, format: None, fps: None, exposure: Control::Device, focus: Control::Device }
    }
}

/// One property to set, named for the logs and the description.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Property {
    pub id: i32,
    pub name: &'static str,
    pub value: f64,
}

/// V4L2's `V4L2_CID_EXPOSURE_AUTO` menu, which OpenCV's V4L2 backend passes through unchanged:
/// manual, and aperture priority (the automatic mode UVC cameras have; plain "auto" is rare).
pub const V4L2_EXPOSURE_MANUAL: f64 = 1.0;
pub const V4L2_EXPOSURE_APERTURE_PRIORITY: f64 = 3.0;

/// A FourCC as the number `CAP_PROP_FOURCC` takes (its four bytes, first one lowest).
pub fn fourcc_value(code: &str) -> Option<f64> {
    let bytes: [u8; 4] = code.as_bytes().try_into().ok()?;
    Some(f64::from(u32::from_le_bytes(bytes)))
}

/// The FourCC `CAP_PROP_FOURCC` reads back, `None` when it is not four printable characters.
pub fn fourcc_text(value: f64) -> Option<String> {
    if !(0.0..=f64::from(u32::MAX)).contains(&value) || value.fract() != 0.0 {
        return None;
    }
    // In range and whole: the conversion is exact.
    let bytes = (value as u32).to_le_bytes();
    bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ').then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

/// The properties to set, in the order the driver needs them: the format before the size (a
/// format change resets the size), the size before the rate (the rates a size allows differ),
/// and each auto mode before its manual value (a value is refused while auto is on).
pub fn properties(s: &CameraSettings) -> Vec<Property> {
    let mut out = Vec::new();
    let mut push = |id, name, value| out.push(Property { id, name, value });
    if let Some(value) = s.format.and_then(|f| fourcc_value(f.fourcc())) {
        push(videoio::CAP_PROP_FOURCC, "pixel format", value);
    }
    push(videoio::CAP_PROP_FRAME_WIDTH, "width", f64::from(s.width));
    push(videoio::CAP_PROP_FRAME_HEIGHT, "height", f64::from(s.height));
    if let Some(fps) = s.fps {
        push(videoio::CAP_PROP_FPS, "frame rate", f64::from(fps));
    }
    match s.exposure {
        Control::Device => {}
        Control::Auto => push(videoio::CAP_PROP_AUTO_EXPOSURE, "auto exposure", V4L2_EXPOSURE_APERTURE_PRIORITY),
        Control::Manual(value) => {
            push(videoio::CAP_PROP_AUTO_EXPOSURE, "auto exposure", V4L2_EXPOSURE_MANUAL);
            push(videoio::CAP_PROP_EXPOSURE, "exposure", value);
        }
    }
    match s.focus {
        Control::Device => {}
        Control::Auto => push(videoio::CAP_PROP_AUTOFOCUS, "autofocus", 1.0),
        Control::Manual(value) => {
            push(videoio::CAP_PROP_AUTOFOCUS, "autofocus", 0.0);
            push(videoio::CAP_PROP_FOCUS, "focus", value);
        }
    }
    out
}

/// What the device answered for one property.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    pub property: Property,
    /// `false` when the device refused the value (or has no such control).
    pub accepted: bool,
    /// What the device reads back, when it reads anything.
    pub actual: Option<f64>,
}

impl Applied {
    /// The setting as the device has it, e.g. `pixel format MJPG`, `frame rate 30`.
    fn actual_text(&self) -> Option<String> {
        let actual = self.actual?;
        Some(match self.property.id {
            videoio::CAP_PROP_FOURCC => fourcc_text(actual)?,
            videoio::CAP_PROP_AUTO_EXPOSURE if actual == V4L2_EXPOSURE_MANUAL => "manual".into(),
            videoio::CAP_PROP_AUTO_EXPOSURE => "auto".into(),
            videoio::CAP_PROP_AUTOFOCUS if actual == 0.0 => "off".into(),
            videoio::CAP_PROP_AUTOFOCUS => "on".into(),
            _ => format!("{}", (actual * 100.0).round() / 100.0),
        })
    }
}

/// The description of what the device accepted: `640x480, pixel format MJPG, frame rate 30,
/// exposure refused (asked 156)`. Width and height are joined; a refused setting says so.
pub fn describe_applied(applied: &[Applied]) -> String {
    let mut parts = Vec::new();
    let value = |id| applied.iter().find(|a| a.property.id == id).and_then(Applied::actual_text);
    if let (Some(w), Some(h)) = (value(videoio::CAP_PROP_FRAME_WIDTH), value(videoio::CAP_PROP_FRAME_HEIGHT)) {
        parts.push(format!("{w}x{h}"));
    }
    for a in applied {
        let id = a.property.id;
        if id == videoio::CAP_PROP_FRAME_WIDTH || id == videoio::CAP_PROP_FRAME_HEIGHT {
            if !a.accepted {
                parts.push(format!("{} refused (asked {})", a.property.name, a.property.value));
            }
            continue;
        }
        match (a.accepted, a.actual_text()) {
            (true, Some(text)) => parts.push(format!("{} {text}", a.property.name)),
            (true, None) => parts.push(format!("{} set", a.property.name)),
            (false, _) => parts.push(format!("{} refused", a.property.name)),
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &CameraSettings) -> Vec<(i32, f64)> {
        properties(s).iter().map(|p| (p.id, p.value)).collect()
    }

    #[test]
    fn the_resolution_alone_touches_nothing_else() {
        assert_eq!(
            ids(&CameraSettings::resolution(640, 480)),
            [(videoio::CAP_PROP_FRAME_WIDTH, 640.0), (videoio::CAP_PROP_FRAME_HEIGHT, 480.0)]
        );
    }

    #[test]
    fn every_setting_in_the_order_the_driver_needs() {
        let s = CameraSettings {
            width: 1280,
            height: 720,
            format: Some(CameraFormat::Mjpg),
            fps: Some(30),
            exposure: Control::Manual(156.0),
            focus: Control::Manual(40.0),
        };
        let mjpg = f64::from(u32::from_le_bytes(*b"MJPG"));
        assert_eq!(
            ids(&s),
            [
                (videoio::CAP_PROP_FOURCC, mjpg),
                (videoio::CAP_PROP_FRAME_WIDTH, 1280.0),
                (videoio::CAP_PROP_FRAME_HEIGHT, 720.0),
                (videoio::CAP_PROP_FPS, 30.0),
                (videoio::CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_MANUAL),
                (videoio::CAP_PROP_EXPOSURE, 156.0),
                (videoio::CAP_PROP_AUTOFOCUS, 0.0),
                (videoio::CAP_PROP_FOCUS, 40.0),
            ]
        );
        let auto = CameraSettings {
            format: Some(CameraFormat::Yuyv),
            exposure: Control::Auto,
            focus: Control::Auto,
            ..CameraSettings::resolution(640, 480)
        };
        let yuyv = f64::from(u32::from_le_bytes(*b"YUYV"));
        assert_eq!(
            ids(&auto),
            [
                (videoio::CAP_PROP_FOURCC, yuyv),
                (videoio::CAP_PROP_FRAME_WIDTH, 640.0),
                (videoio::CAP_PROP_FRAME_HEIGHT, 480.0),
                (videoio::CAP_PROP_AUTO_EXPOSURE, V4L2_EXPOSURE_APERTURE_PRIORITY),
                (videoio::CAP_PROP_AUTOFOCUS, 1.0),
            ]
        );
    }

    #[test]
    fn fourcc_round_trips_and_rejects_noise() {
        let v = fourcc_value("MJPG").unwrap();
        assert_eq!(v, 1_196_444_237.0, "the value VideoWriter::fourcc('M','J','P','G') gives");
        assert_eq!(fourcc_text(v).as_deref(), Some("MJPG"));
        assert_eq!(fourcc_value("MJPEG"), None);
        assert_eq!(fourcc_text(0.0), None, "a device that reads back nothing");
        assert_eq!(fourcc_text(-1.0), None);
        assert_eq!(fourcc_text(1.5), None);
    }

    #[test]
    fn the_description_says_what_the_device_took_and_refused() {
        let s = CameraSettings {
            format: Some(CameraFormat::Mjpg),
            fps: Some(30),
            exposure: Control::Manual(156.0),
            focus: Control::Auto,
            ..CameraSettings::resolution(1280, 720)
        };
        let answers = [
            (true, fourcc_value("YUYV")),
            (true, Some(640.0)),
            (true, Some(480.0)),
            (true, Some(29.97)),
            (true, Some(1.0)),
            (false, Some(0.0)),
            (false, None),
        ];
        let applied: Vec<Applied> = properties(&s)
            .into_iter()
            .zip(answers)
            .map(|(property, (accepted, actual))| Applied { property, accepted, actual })
            .collect();
        assert_eq!(
            describe_applied(&applied),
            "640x480, pixel format YUYV, frame rate 29.97, auto exposure manual, exposure refused, autofocus refused"
        );
    }
}
