//! Real camera: OpenCV `VideoCapture` over V4L2.

use opencv::{
    core::Mat,
    prelude::*,
    videoio::{self, VideoCapture},
};

use super::{Camera, CameraError, Frame};

pub struct VideoCaptureCamera {
    capture: VideoCapture,
    device: String,
    sequence: u64,
}

impl VideoCaptureCamera {
    /// Opens `/dev/videoN` (given as its index) at the requested resolution.
    pub fn open(index: i32, width: u32, height: u32) -> Result<Self, CameraError> {
        let device = format!("/dev/video{index}");
        let open_err = |reason: String| CameraError::Open { device: device.clone(), reason };
        let mut capture = VideoCapture::new(index, videoio::CAP_V4L2).map_err(|e| open_err(e.to_string()))?;
        if !capture.is_opened().map_err(|e| open_err(e.to_string()))? {
            return Err(open_err("the device did not open".into()));
        }
        // Resolution requests are hints: a camera that refuses them still delivers frames.
        let _ = capture.set(videoio::CAP_PROP_FRAME_WIDTH, f64::from(width));
        let _ = capture.set(videoio::CAP_PROP_FRAME_HEIGHT, f64::from(height));
        Ok(Self { capture, device, sequence: 0 })
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
        format!("V4L2 camera {}", self.device)
    }
}
