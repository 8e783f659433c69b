//! Simulated camera: replays still images (decoded by OpenCV) in a loop.

use std::path::PathBuf;

use opencv::{core::Mat, imgcodecs, prelude::*};

use super::{Camera, CameraError, Frame};

/// Plays a fixed list of decoded images, one per `capture`, round and round.
pub struct ReplayCamera {
    frames: Vec<Mat>,
    next: usize,
    sequence: u64,
    label: String,
}

impl ReplayCamera {
    /// Decodes every image up front so that capture timing looks like a real camera's.
    pub fn from_files(paths: &[PathBuf]) -> Result<Self, CameraError> {
        if paths.is_empty() {
            return Err(CameraError::NoReplayImages);
        }
        let mut frames = Vec::with_capacity(paths.len());
        for path in paths {
            let shown = path.display().to_string();
            let image = imgcodecs::imread(&shown, imgcodecs::IMREAD_COLOR)
                .map_err(|e| CameraError::ReplayImage { path: shown.clone(), reason: e.to_string() })?;
            if image.empty() {
                return Err(CameraError::ReplayImage { path: shown, reason: "not a decodable image".into() });
            }
            frames.push(image);
        }
        Ok(Self { frames, next: 0, sequence: 0, label: format!("replay of {} image(s)", paths.len()) })
    }

    /// Replays frames already in memory (tests build them without touching disk).
    pub fn from_frames(frames: Vec<Mat>) -> Result<Self, CameraError> {
        if frames.is_empty() {
            return Err(CameraError::NoReplayImages);
        }
        let label = format!("replay of {} frame(s)", frames.len());
        Ok(Self { frames, next: 0, sequence: 0, label })
    }
}

impl Camera for ReplayCamera {
    fn capture(&mut self) -> Result<Frame, CameraError> {
        let image = self.frames[self.next]
            .try_clone()
            .map_err(|e| CameraError::Capture { device: self.label.clone(), reason: e.to_string() })?;
        self.next = (self.next + 1) % self.frames.len();
        self.sequence += 1;
        Ok(Frame { image, sequence: self.sequence })
    }

    fn describe(&self) -> String {
        self.label.clone()
    }
}
