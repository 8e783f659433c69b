//! Camera: a source of BGR frames.

#[cfg(feature = "sim")]
mod replay;
mod settings;
mod video_capture;

#[cfg(feature = "sim")]
pub use replay::ReplayCamera;
pub use settings::{
    describe_applied, fourcc_text, fourcc_value, properties, Applied, CameraFormat, CameraSettings, Control, Property,
};
pub use video_capture::{CameraDevice, VideoCaptureCamera};

use opencv::core::Mat;

/// One captured picture, 8-bit BGR as OpenCV delivers it. Lives in memory only.
pub struct Frame {
    pub image: Mat,
    /// Monotonic frame counter of the camera that produced it.
    pub sequence: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    #[error("camera {device} could not be opened: {reason}. Check that it is plugged in and not used by another program")]
    Open { device: String, reason: String },
    #[error("camera {device} delivered no frame: {reason}")]
    Capture { device: String, reason: String },
    #[error(
        "replay image {path} could not be read: {reason}. Check the file exists and is a JPEG/PNG image"
    )]
    ReplayImage { path: String, reason: String },
    #[error("replay camera has no images to play")]
    NoReplayImages,
}

/// A device that delivers frames of the person in front of the kiosk.
pub trait Camera: Send {
    /// Captures the next frame.
    fn capture(&mut self) -> Result<Frame, CameraError>;
    /// Short human-readable description for logs and diagnostics.
    fn describe(&self) -> String;
}
