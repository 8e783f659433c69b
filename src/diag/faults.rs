//! Faults injected into the simulated devices, so tests (and technician training) can see
//! each check fail the way it would on a broken kiosk. Refused with real drivers.

use kiosk_config::{CameraDriver, CardReaderDriver, Config, DisplayDriver, InputDriver, PrinterDriver, SpeakerDriver};

use super::DiagError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SimulatedFault {
    /// The card reader is silent: no ACK, no reply (cable cut, reader off).
    Reader,
    /// The camera cannot be opened (unplugged).
    Camera,
    /// The camera delivers black frames (lens covered, exposure stuck).
    CameraDark,
    /// The display cannot be opened (framebuffer missing).
    Display,
    /// The touch screen cannot be opened (evdev node missing).
    Input,
    /// The speaker cannot speak (amplifier off).
    Speaker,
    /// The receipt printer's paper roll is nearly used up (a warning).
    PrinterPaperLow,
    /// The receipt printer has run out of paper.
    PrinterPaperOut,
    /// The receipt printer's cover is open.
    PrinterCoverOpen,
    /// The receipt printer does not answer (off, cable cut).
    PrinterOffline,
}

impl SimulatedFault {
    pub fn name(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Camera => "camera",
            Self::CameraDark => "camera-dark",
            Self::Display => "display",
            Self::Input => "input",
            Self::Speaker => "speaker",
            Self::PrinterPaperLow => "printer-paper-low",
            Self::PrinterPaperOut => "printer-paper-out",
            Self::PrinterCoverOpen => "printer-cover-open",
            Self::PrinterOffline => "printer-offline",
        }
    }

    pub(crate) fn check_applicable(self, config: &Config) -> Result<(), DiagError> {
        let simulated = match self {
            Self::Reader => (config.card_reader.driver == CardReaderDriver::Simulator, "card reader", "card_reader.driver = \"simulator\""),
            Self::Camera | Self::CameraDark => (config.camera.driver == CameraDriver::Replay, "camera", "camera.driver = \"replay\""),
            Self::Display => (config.display.driver == DisplayDriver::Memory, "display", "display.driver = \"memory\""),
            Self::Input => (config.input.driver == InputDriver::Scripted, "input", "input.driver = \"scripted\""),
            Self::Speaker => (config.speaker.driver == SpeakerDriver::Simulator, "speaker", "speaker.driver = \"simulator\""),
            Self::PrinterPaperLow | Self::PrinterPaperOut | Self::PrinterCoverOpen | Self::PrinterOffline => {
                (config.printer.driver == PrinterDriver::Simulator, "printer", "printer.driver = \"simulator\"")
            }
        };
        match simulated {
            (true, _, _) => Ok(()),
            (false, device, key) => Err(DiagError::FaultNeedsSimulator { fault: self.name(), device, key }),
        }
    }
}
