//! The real imager: a V4L2 camera under the window (OpenCV `VideoCapture`), lights switched by
//! the card reader.

use opencv::{
    core::Mat,
    prelude::*,
    videoio::{self, VideoCapture},
};

use super::{DocumentImager, ImagerError, Light, Lights};

pub struct VideoCaptureImager {
    capture: VideoCapture,
    device: String,
    lights: Box<dyn Lights>,
    /// Frames read and dropped after a light changes: the camera's queue still holds pictures
    /// taken under the previous light, and its exposure needs a moment to follow.
    settle_frames: u32,
}

impl VideoCaptureImager {
    /// Opens `/dev/videoN` at the requested resolution; `lights` is the card reader.
    pub fn open(
        index: i32,
        width: u32,
        height: u32,
        settle_frames: u32,
        lights: Box<dyn Lights>,
    ) -> Result<Self, ImagerError> {
        let device = format!("/dev/video{index}");
        let open_err = |reason: String| ImagerError::Open { device: device.clone(), reason };
        let mut capture = VideoCapture::new(index, videoio::CAP_V4L2).map_err(|e| open_err(e.to_string()))?;
        if !capture.is_opened().map_err(|e| open_err(e.to_string()))? {
            return Err(open_err("the device did not open".into()));
        }
        // Resolution requests are hints: the page finder works at whatever comes back.
        let _ = capture.set(videoio::CAP_PROP_FRAME_WIDTH, f64::from(width));
        let _ = capture.set(videoio::CAP_PROP_FRAME_HEIGHT, f64::from(height));
        Ok(Self { capture, device, lights, settle_frames })
    }

    fn read(&mut self) -> Result<Mat, ImagerError> {
        let mut image = Mat::default();
        let grabbed = self
            .capture
            .read(&mut image)
            .map_err(|e| ImagerError::Capture { device: self.device.clone(), reason: e.to_string() })?;
        if !grabbed || image.empty() {
            return Err(ImagerError::Capture {
                device: self.device.clone(),
                reason: "empty frame (camera unplugged or stream stopped)".into(),
            });
        }
        Ok(image)
    }
}

impl DocumentImager for VideoCaptureImager {
    fn capture(&mut self, light: Light) -> Result<Mat, ImagerError> {
        self.lights.switch(Some(light))?;
        for _ in 0..self.settle_frames {
            self.read()?;
        }
        self.read()
    }

    fn lights_off(&mut self) -> Result<(), ImagerError> {
        self.lights.switch(None)
    }

    fn describe(&self) -> String {
        format!("V4L2 document imager {}", self.device)
    }
}

impl Drop for VideoCaptureImager {
    fn drop(&mut self) {
        // No light left burning; the reader may be gone, so an error is moot.
        if let Err(error) = self.lights.switch(None) {
            tracing::debug!(%error, "could not switch the imager lights off on drop");
        }
    }
}
