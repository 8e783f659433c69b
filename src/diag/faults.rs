//! Faults injected into the simulated devices, so tests (and technician training) can see
//! each check fail the way it would on a broken kiosk (`wiring` opens the devices with them).
//! Refused with real drivers.

use kiosk_config::{CameraDriver, CardReaderDriver, Config, DisplayDriver, InputDriver, PrinterDriver, SpeakerDriver};

use super::DiagError;

pub use crate::wiring::SimulatedFault;

impl SimulatedFault {
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
