//! kiosk-core: the bank's gateway for the kiosk fleet. It takes the kiosks' outbox messages
//! exactly once into PostgreSQL (docs/openapi/core-sync.yaml), keeps one demo account per
//! person fleet-wide (the passport exactly, then the face among the same birth date, as on the
//! kiosk), redeems activation tokens once and
//! authorises demo-account transactions against the kiosk's own limits function.
//!
//! Stateless processes: every fact lives in PostgreSQL; the only per-process state is the
//! in-memory 1:N index, rebuilt from the database at start and caught up before each search.
#![forbid(unsafe_code)]
// No unwrap/expect outside tests (DEVELOPERS.md): a device, file, network or person's data must
// never panic the kiosk. An invariant that cannot fail keeps its `expect` with an `allow` saying why.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// Amounts are written roubles_kopecks (`50_000_00`), as in the kiosk crate.
#![allow(clippy::inconsistent_digit_grouping)]

pub mod activation;
pub mod admission;
pub mod anchors;
pub mod authorise;
pub mod db;
pub mod error;
pub mod fleet;
pub mod fleet_page;
pub mod http;
pub mod index;
pub mod ingest;
pub mod keys;
pub mod kiosks;
pub mod metrics;
pub mod migrations;
pub mod server;

pub use error::{CoreError, ErrorKind};
