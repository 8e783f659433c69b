//! The demo bank account: limits, issuance, the signed activation token and the kiosk's
//! signing identity.

// Amounts are written roubles_kopecks (`50_000_00` = 50,000.00 RUB), which clippy calls
// inconsistent grouping.
#![allow(clippy::inconsistent_digit_grouping)]

pub mod activation;
pub mod demo_account;
pub mod keys;
pub mod limits;
pub mod money;

pub use activation::{issue_token, verify_token, Claims, LimitsSummary, TokenError, TokenId};
pub use demo_account::DemoAccount;
pub use keys::{KeyError, KioskIdentity};
pub use limits::{
    check_transaction, LimitsError, LimitsPolicy, Operation, PastTransaction, ProposedTransaction,
    TransactionRefusal, HARD_PER_TRANSACTION_CAP_KOPECKS, MOSCOW_OFFSET,
};
pub use money::Kopecks;
