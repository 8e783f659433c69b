//! The demo bank account: limits, issuance and the signed activation token.

// Amounts are written roubles_kopecks (`50_000_00` = 50,000.00 RUB), which clippy calls
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

pub mod activation;
pub mod demo_account;
pub mod limits;
pub mod money;

pub use activation::{issue_token, verify_token, Claims, LimitsSummary, TokenError, TokenId};
pub use demo_account::DemoAccount;
// The identity key lives in `crate::keys` (shared with the store, without an import cycle).
pub use crate::keys::{KeyError, KioskIdentity};
pub use limits::{
    check_transaction, LimitsError, LimitsPolicy, Operation, PastTransaction, ProposedTransaction,
    TransactionRefusal, HARD_PER_TRANSACTION_CAP_KOPECKS, MOSCOW_OFFSET,
};
pub use money::Kopecks;
