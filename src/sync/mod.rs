//! Sync with the bank core: the outbox drained over HTTPS (rustls, client certificate), each
//! body signed with the kiosk key and sent with an idempotency key, exponential back-off with
//! jitter, permanent refusals quarantined. The protocol is `docs/openapi/core-sync.yaml`;
//! `sim` is a core simulator for tests and benchmarks (feature `demo`: not in the production build).

pub mod backoff;
pub mod client;
pub mod drain;
pub mod heartbeat;
pub mod protocol;
#[cfg(feature = "demo")]
pub mod sim;
pub mod tls;

pub use backoff::Backoff;
pub use client::{CoreClient, Timeouts};
pub use drain::{drain, run, AnchorOutcome, DrainReport, Progress, Scope, ANCHOR_MAX_AGE};
pub use protocol::Verdict;
pub use tls::TlsError;

use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("sync.core_url `{url}` is not usable: {why}; expected https://host[:port][/base]")]
    BadUrl { url: String, why: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the core refuses this kiosk ({status}: {reason}); check the client certificate and that the kiosk's public key is registered with the bank")]
    Unauthorized { status: u16, reason: String },
}
