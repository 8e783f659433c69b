//! Local storage: SQLite with sealed personal data, a hash-chained audit log and the outbox
//! the sync drains.

mod anchors;
pub mod audit;
#[cfg(test)]
mod fixture;
pub mod keystore;
mod lookup;
pub mod migrations;
mod outbox;
pub mod record;
mod retention;
pub mod seal;
mod social;
#[allow(clippy::module_inception)]
mod store;

pub use anchors::{read_anchor_gauges, AnchorGauges, PendingAnchor};
pub use audit::{verify_chain, Anchor, AuditError, AuditReport, BreakKind};
pub use crate::keys::KeyFileError;
pub use keystore::{AuditKey, KeyStore, KeyStoreError};
pub use lookup::{DuplicateKind, EnrolmentKeys, LookupDigest, LookupKey};
pub use migrations::{MigrationError, SCHEMA_VERSION};
pub use record::{ChipProof, FaceChecks, IssuedAccount, OnboardingRecord, Outcome, PersonalData};
pub use seal::{DataKey, KeyId, SealError};
pub use outbox::{read_outbox_gauges, CoreAccountState, OutboxGauges, OutboxItem, OutboxStatus, QuarantinedItem};
pub use retention::{PurgeReport, MAX_KEY_LIFETIME};
pub use social::{StoredSocialPaymentsChoice, OUTBOX_SOCIAL_PAYMENTS_CHOICE};
pub use store::{unix_ms_now, Store, StoreError, OUTBOX_ACCOUNT_OPENED};
