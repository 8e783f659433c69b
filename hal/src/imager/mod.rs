//! Document imager: a camera under the reader's window that photographs a document's page under
//! white, infrared (about 870 nm) and ultraviolet (about 365 nm) light, as full-page readers in
//! bank branches do. The lights are switched by the card reader (command 0x71, see
//! docs/CARD-READER.md), the pictures come from a second V4L2 camera.
//!
//! Page images are personal data: they live in memory only and are never written to disk here.

#[cfg(feature = "sim")]
pub mod sim;
#[cfg(test)]
mod tests;
mod video_capture;

pub use video_capture::VideoCaptureImager;

use opencv::core::Mat;

/// The light a page is photographed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Light {
    White,
    /// About 870 nm: carbon inks (the machine-readable record, the laser-printed photo) stay
    /// dark, most colour inks vanish.
    Infrared,
    /// About 365 nm: a genuine blank stays dull with its fluorescent fibres and pattern; office
    /// paper with optical brighteners glows.
    Ultraviolet,
}

impl Light {
    pub const ALL: [Light; 3] = [Light::White, Light::Infrared, Light::Ultraviolet];

    /// The parameter byte of reader command 0x71.
    pub fn parameter(self) -> u8 {
        match self {
            Self::White => 0x31,
            Self::Infrared => 0x32,
            Self::Ultraviolet => 0x33,
        }
    }

    /// The light of a command 0x71 parameter; `Ok(None)` is "all off" (0x30).
    pub fn from_parameter(pm: u8) -> Result<Option<Self>, u8> {
        match pm {
            0x30 => Ok(None),
            0x31 => Ok(Some(Self::White)),
            0x32 => Ok(Some(Self::Infrared)),
            0x33 => Ok(Some(Self::Ultraviolet)),
            other => Err(other),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::White => "white",
            Self::Infrared => "ir",
            Self::Ultraviolet => "uv",
        }
    }
}

/// One page under the three lights, 8-bit BGR. Memory only.
pub struct PageCaptures {
    pub white: Mat,
    pub infrared: Mat,
    pub ultraviolet: Mat,
}

impl PageCaptures {
    pub fn get(&self, light: Light) -> &Mat {
        match light {
            Light::White => &self.white,
            Light::Infrared => &self.infrared,
            Light::Ultraviolet => &self.ultraviolet,
        }
    }
}

/// What a caller can do about an [`ImagerError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImagerErrorKind {
    /// The device is missing or unusable: out of service until a technician sees to it.
    Device,
    /// The lights could not be switched (reader line fault, or a reader without lights).
    Lights,
    /// Nothing usable came back this time: try again.
    Capture,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagerError {
    #[error("document imager camera {device} could not be opened: {reason}. Check that it is plugged in and that `imager.device` names it")]
    Open { device: String, reason: String },
    #[error("document imager camera {device} delivered no picture: {reason}")]
    Capture { device: String, reason: String },
    #[error("the imager's {light} light could not be switched: {reason}. Check the card reader's cable")]
    Lights { light: &'static str, reason: String },
    #[error("the card reader does not know the light command (0x71): its firmware has no imager lights. Update the reader or set `imager.driver = \"none\"`")]
    NoLights,
    #[error("the simulated imager could not render its page: {0}")]
    Render(String),
}

impl ImagerError {
    pub fn kind(&self) -> ImagerErrorKind {
        match self {
            Self::Open { .. } | Self::NoLights | Self::Render(_) => ImagerErrorKind::Device,
            Self::Lights { .. } => ImagerErrorKind::Lights,
            Self::Capture { .. } => ImagerErrorKind::Capture,
        }
    }
}

/// Switches the imager's lights: the card reader does, over its serial line.
pub trait Lights: Send {
    /// `None` switches every light off.
    fn switch(&mut self, light: Option<Light>) -> Result<(), ImagerError>;
}

impl<R: crate::CardReader + ?Sized> Lights for R {
    fn switch(&mut self, light: Option<Light>) -> Result<(), ImagerError> {
        use crate::card_reader::{CardReaderError, DeviceErrorKind};
        let name = light.map_or("off", Light::name);
        self.set_light(light).map_err(|error| match error {
            CardReaderError::Device { kind: DeviceErrorKind::UnknownCommand, .. } => ImagerError::NoLights,
            other => ImagerError::Lights { light: name, reason: other.to_string() },
        })
    }
}

/// A device that photographs the page lying on the reader's window.
pub trait DocumentImager: Send {
    /// One picture under `light` (switched on for it).
    fn capture(&mut self, light: Light) -> Result<Mat, ImagerError>;

    /// The page under white, infrared and ultraviolet light, lights off afterwards (also when a
    /// capture failed).
    fn capture_page(&mut self) -> Result<PageCaptures, ImagerError> {
        let result = (|| {
            Ok(PageCaptures {
                white: self.capture(Light::White)?,
                infrared: self.capture(Light::Infrared)?,
                ultraviolet: self.capture(Light::Ultraviolet)?,
            })
        })();
        let off = self.lights_off();
        let captures = result?;
        off?;
        Ok(captures)
    }

    fn lights_off(&mut self) -> Result<(), ImagerError>;

    /// Short human-readable description for logs and diagnostics.
    fn describe(&self) -> String;
}
