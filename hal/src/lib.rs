//! Kiosk hardware abstraction layer.
//!
//! Every device the kiosk touches sits behind one of the traits here: [`Camera`],
//! [`CardReader`], [`Display`], [`Input`], [`Speaker`], [`Printer`]. Each trait has a real driver and a simulator
//! that speaks the same protocol, so business logic never knows which one it drives.
//!
//! The simulators, and the cryptography the simulated chips need, are compiled only with the
//! cargo feature `sim` (demo and test builds): a production build holds the real drivers alone.
//!
//! Unsafe code is forbidden in every module but `linux_ioctl`, the framebuffer and console
//! ioctls (the crate's one FFI edge): the crate denies it, each other module forbids it.
#![deny(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

/// True when this build holds the simulators (feature `sim`): a demo or test build.
pub const SIMULATORS_BUILT_IN: bool = cfg!(feature = "sim");

#[forbid(unsafe_code)]
pub mod camera;
#[forbid(unsafe_code)]
pub mod card_reader;
#[forbid(unsafe_code)]
pub mod display;
#[forbid(unsafe_code)]
pub mod imager;
#[forbid(unsafe_code)]
pub mod input;
mod linux_ioctl;
#[forbid(unsafe_code)]
pub mod printer;
#[cfg(feature = "sim")]
#[forbid(unsafe_code)]
pub mod pty_device;
#[forbid(unsafe_code)]
mod serial_line;
#[forbid(unsafe_code)]
pub mod speaker;

pub use camera::{Camera, CameraError, Frame};
pub use card_reader::{CardReader, CardReaderError};
pub use display::{Display, DisplayError};
pub use imager::{DocumentImager, ImagerError, Light};
pub use input::{Input, InputError, InputEvent};
pub use printer::{Printer, PrinterError, PrinterStatus, Receipt, ReceiptLine};
pub use speaker::{Speaker, SpeakerError, SpeechLanguage};
