//! Real camera: OpenCV `VideoCapture` over V4L2.

use opencv::{
    core::Mat,
    prelude::*,
    videoio::{self, VideoCapture},
};

use super::settings::{describe_applied, properties, Applied, CameraSettings};
use super::{Camera, CameraError, Frame};

pub struct VideoCaptureCamera {
    capture: VideoCapture,
    device: String,
    /// What the device accepted when it was opened (for `describe`).
    settings: String,
    sequence: u64,
}

/// Where the camera is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CameraDevice {
    /// `/dev/videoN` by its number.
    Index(i32),
    /// A device path: a stable `/dev/v4l/by-id/…` link or `/dev/videoN`.
    Path(String),
}

impl std::fmt::Display for CameraDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Index(i) => write!(f, "/dev/video{i}"),
            Self::Path(p) => f.write_str(p),
        }
    }
}

impl VideoCaptureCamera {
    /// Opens `/dev/videoN` (given as its index) at the requested resolution.
    pub fn open(index: i32, width: u32, height: u32) -> Result<Self, CameraError> {
        Self::open_with(&CameraDevice::Index(index), &CameraSettings::resolution(width, height))
    }

    /// Opens the device and asks it for `settings`. A setting it refuses is logged and left as
    /// the device has it: a camera that keeps its own exposure still shows the person.
    pub fn open_with(device: &CameraDevice, settings: &CameraSettings) -> Result<Self, CameraError> {
        let name = device.to_string();
        let open_err = |reason: String| CameraError::Open {
            device: name.clone(),
            reason: format!("{reason} (check the path with `v4l2-ctl --list-devices` and that this user is in the `video` group)"),
        };
        let capture = match device {
            CameraDevice::Index(index) => VideoCapture::new(*index, videoio::CAP_V4L2),
            CameraDevice::Path(path) => VideoCapture::from_file(path, videoio::CAP_V4L2),
        };
        let mut capture = capture.map_err(|e| open_err(e.to_string()))?;
        if !capture.is_opened().map_err(|e| open_err(e.to_string()))? {
            return Err(open_err("the device did not open".into()));
        }
        let applied: Vec<Applied> = properties(settings)
            .into_iter()
            .map(|property| {
                let accepted = capture.set(property.id, property.value).unwrap_or(false);
                let actual = capture.get(property.id).ok().filter(|v| *v != -1.0);
                if !accepted {
                    tracing::warn!(device = %name, setting = property.name, asked = property.value, ?actual,
                        "the camera refused a setting; it keeps its own");
                }
                Applied { property, accepted, actual }
            })
            .collect();
        let settings = describe_applied(&applied);
        tracing::info!(device = %name, %settings, "camera opened");
        Ok(Self { capture, device: name, settings, sequence: 0 })
    }
}

impl Camera for VideoCaptureCamera {
    fn capture(&mut self) -> Result<Frame, CameraError> {
        let mut image = Mat::default();
        let grabbed = self
            .capture
            .read(&mut image)
            .map_err(|e| CameraError::Capture { device: self.device.clone(), reason: e.to_string() })?;
        if !grabbed || image.empty() {
            return Err(CameraError::Capture {
                device: self.device.clone(),
                reason: "empty frame (camera unplugged or stream stopped)".into(),
            });
        }
        self.sequence += 1;
        Ok(Frame { image, sequence: self.sequence })
    }

    fn describe(&self) -> String {
        format!("V4L2 camera {} ({})", self.device, self.settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_is_named_with_the_fix() {
        let device = CameraDevice::Path("/dev/v4l/by-id/usb-none-video-index0".into());
        let err = VideoCaptureCamera::open_with(&device, &CameraSettings::resolution(640, 480)).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("/dev/v4l/by-id/usb-none-video-index0") && text.contains("v4l2-ctl"), "{text}");
        assert_eq!(CameraDevice::Index(3).to_string(), "/dev/video3");
    }
}
