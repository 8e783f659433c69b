//! What the simulated devices are asked to be: the fault diag injects (tests and technician
//! training), the reader's retain-bin count, the touches of the scripted input. Real drivers
//! ignore all of it; `kiosk run` passes `Simulation::default()`.

use kiosk_hal::InputEvent;

/// A fault of one simulated device, so a check can be seen failing as on a broken kiosk.
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
}

/// How the simulated devices of a configuration behave.
#[derive(Debug, Clone, Default)]
pub struct Simulation {
    /// One simulated device made faulty.
    pub fault: Option<SimulatedFault>,
    /// Cards already in the simulated reader's retain bin.
    pub retain_bin_count: u16,
    /// What the scripted input delivers, in order; then nothing (it waits out each timeout).
    pub touches: Vec<InputEvent>,
}
