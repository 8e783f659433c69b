//! Display: an embedded-graphics draw target that can be presented.

mod buffer;
mod console;
mod framebuffer;
#[cfg(feature = "sim")]
mod memory;

pub use console::GraphicsConsole;
pub use framebuffer::{Channel, FramebufferDisplay, PixelLayout, ScreenInfo};
#[cfg(feature = "sim")]
pub use memory::MemoryDisplay;

use embedded_graphics::{pixelcolor::Rgb888, prelude::*};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisplayError {
    #[error("display {device} could not be opened: {reason}")]
    Open { device: String, reason: String },
    #[error("display {device} write failed: {reason}")]
    Write { device: String, reason: String },
    #[error("the screen could not be encoded as PNG: {reason}. Check the display size is not zero")]
    Encode { reason: String },
}

/// A screen the UI draws on. Drawing goes to a back buffer; `present` shows it.
pub trait Display: DrawTarget<Color = Rgb888, Error = DisplayError> + OriginDimensions + Send {
    /// Shows the back buffer. `screen_id` names the screen (for logs and snapshots).
    fn present(&mut self, screen_id: &str) -> Result<(), DisplayError>;
}
