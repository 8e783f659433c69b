//! Protocol-faithful card reader simulator: the device side on a pseudo-terminal.
//!
//! ```no_run
//! use kiosk_hal::card_reader::sim::{spawn, SimulatorConfig, VirtualPassport};
//! use kiosk_hal::card_reader::SerialCardReader;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let passport = VirtualPassport::new(vec!["…".into(), "…".into()], vec![0xFF, 0xD8, 0xFF]);
//! let sim = spawn(SimulatorConfig::with_document(passport))?;
//! let reader = SerialCardReader::open(sim.port_path(), 115_200)?;
//! # Ok(()) }
//! ```

mod ber;
pub mod chip_auth;
mod chip_crypto;
mod chip_groups;
pub mod chip_pace;
pub mod emv;
pub mod passport;
pub mod pki;
pub mod simulator;

pub use emv::VirtualBankCard;
pub use chip_auth::{AaKey, ActiveAuthConfig, CaKey, ChipAuthConfig};
pub use chip_crypto::Cipher;
pub use chip_pace::{Mapping, PaceConfig, PaceSuite};
pub use passport::{ChipFaults, OversizeRead, VirtualPassport};
pub use pki::{test_pki, TestPki};
pub use simulator::{spawn, DocumentTray, Faults, SimulatorConfig, SimulatorError, SimulatorHandle, SimulatorStats};
