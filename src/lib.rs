//! `kiosk`: street-kiosk face onboarding.
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

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
