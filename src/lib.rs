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
