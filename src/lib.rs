//! `kiosk`: street-kiosk face onboarding.
#![forbid(unsafe_code)]

pub mod account;
pub mod benefits;
pub mod app;
pub mod diag;
pub mod flow;
pub mod identity;
pub mod keys;
pub mod store;
pub mod sync;
#[doc(hidden)]
pub mod testing;
pub mod ui;
pub mod vision;
pub mod wiring;

/// `kiosk --version`: the version and which build this is. scripts/release and scripts/deb read
/// it to refuse packaging a demo build for a street kiosk.
#[cfg(feature = "demo")]
pub const BUILD_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (demo build: simulators built in)");
/// `kiosk --version`: the version and which build this is. scripts/release and scripts/deb read
/// it to refuse packaging a demo build for a street kiosk.
#[cfg(not(feature = "demo"))]
pub const BUILD_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (production build: no simulators)");

/// True in a demo build (feature `demo`): the simulators are in this binary.
pub const SIMULATORS_BUILT_IN: bool = cfg!(feature = "demo");
