//! Limits of the demo account and the pure check of a proposed transaction against them.
//!
//! Day and month are calendar periods in Moscow time (fixed UTC+3: Russia has had no daylight
//! saving since 2014), because that is how the bank and the customer count them. Daily and
//! monthly caps count turnover: credits and debits alike, as limits for accounts opened with
//! simplified identification do.

use super::money::Kopecks;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;
use time::{OffsetDateTime, UtcOffset};

/// 50,000 RUB per transaction. No configuration can raise it; the check enforces it again even
/// for a policy that somehow skipped the constructor.
pub const HARD_PER_TRANSACTION_CAP_KOPECKS: u64 = 50_000_00;

/// Moscow time, used for "today" and "this month".
pub const MOSCOW_OFFSET: UtcOffset = time::macros::offset!(+3);

/// What the account may do. Credits bring money in, debits take it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    TopUp,
    IncomingTransfer,
    Payment,
    OutgoingTransfer,
    CashWithdrawal,
}

impl Operation {
    pub const ALL: [Operation; 5] = [
        Operation::TopUp,
        Operation::IncomingTransfer,
        Operation::Payment,
        Operation::OutgoingTransfer,
        Operation::CashWithdrawal,
    ];

    pub const fn is_credit(self) -> bool {
        matches!(self, Operation::TopUp | Operation::IncomingTransfer)
    }

    /// Stable name, the same as in config and in the activation token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::TopUp => "top_up",
            Operation::IncomingTransfer => "incoming_transfer",
            Operation::Payment => "payment",
            Operation::OutgoingTransfer => "outgoing_transfer",
            Operation::CashWithdrawal => "cash_withdrawal",
        }
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == name)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LimitsError {
    #[error("per-transaction limit {requested} is above the hard cap of {cap}; lower it in the config")]
    AboveHardCap { requested: Kopecks, cap: Kopecks },
    #[error("per-transaction limit {per_transaction} is above the daily limit {daily}; limits must satisfy per-transaction <= daily <= monthly")]
    PerTransactionAboveDaily { per_transaction: Kopecks, daily: Kopecks },
    #[error("daily limit {daily} is above the monthly limit {monthly}; limits must satisfy per-transaction <= daily <= monthly")]
    DailyAboveMonthly { daily: Kopecks, monthly: Kopecks },
}

/// Limits of a demo account. Fields are private so every value went through [`LimitsPolicy::new`]
/// (deserialisation goes through it too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawLimits", into = "RawLimits")]
#[non_exhaustive]
pub struct LimitsPolicy {
    per_transaction_limit_kopecks: Kopecks,
    daily_limit_kopecks: Kopecks,
    monthly_limit_kopecks: Kopecks,
    balance_limit_kopecks: Kopecks,
    allowed_operations: Vec<Operation>,
}

#[derive(Serialize, Deserialize)]
struct RawLimits {
    per_transaction_limit_kopecks: Kopecks,
    daily_limit_kopecks: Kopecks,
    monthly_limit_kopecks: Kopecks,
    balance_limit_kopecks: Kopecks,
    allowed_operations: Vec<Operation>,
}

impl TryFrom<RawLimits> for LimitsPolicy {
    type Error = LimitsError;
    fn try_from(raw: RawLimits) -> Result<Self, LimitsError> {
        LimitsPolicy::new(
            raw.per_transaction_limit_kopecks,
            raw.daily_limit_kopecks,
            raw.monthly_limit_kopecks,
            raw.balance_limit_kopecks,
            raw.allowed_operations,
        )
    }
}

impl From<LimitsPolicy> for RawLimits {
    fn from(p: LimitsPolicy) -> Self {
        RawLimits {
            per_transaction_limit_kopecks: p.per_transaction_limit_kopecks,
            daily_limit_kopecks: p.daily_limit_kopecks,
            monthly_limit_kopecks: p.monthly_limit_kopecks,
            balance_limit_kopecks: p.balance_limit_kopecks,
            allowed_operations: p.allowed_operations.clone(),
        }
    }
}

impl LimitsPolicy {
    /// Refuses a per-transaction limit above [`HARD_PER_TRANSACTION_CAP_KOPECKS`] and caps out
    /// of order (per-transaction <= daily <= monthly). Duplicate operations are dropped.
    pub fn new(
        per_transaction: Kopecks,
        daily: Kopecks,
        monthly: Kopecks,
        balance: Kopecks,
        mut allowed_operations: Vec<Operation>,
    ) -> Result<LimitsPolicy, LimitsError> {
        let cap = Kopecks(HARD_PER_TRANSACTION_CAP_KOPECKS);
        if per_transaction > cap {
            return Err(LimitsError::AboveHardCap { requested: per_transaction, cap });
        }
        if per_transaction > daily {
            return Err(LimitsError::PerTransactionAboveDaily { per_transaction, daily });
        }
        if daily > monthly {
            return Err(LimitsError::DailyAboveMonthly { daily, monthly });
        }
        allowed_operations.sort();
        allowed_operations.dedup();
        Ok(LimitsPolicy {
            per_transaction_limit_kopecks: per_transaction,
            daily_limit_kopecks: daily,
            monthly_limit_kopecks: monthly,
            balance_limit_kopecks: balance,
            allowed_operations,
        })
    }

    /// Bypasses validation so tests can prove the check holds the hard cap on its own.
    #[cfg(test)]
    pub(crate) fn unchecked(
        per_transaction: Kopecks,
        daily: Kopecks,
        monthly: Kopecks,
        balance: Kopecks,
        allowed_operations: Vec<Operation>,
    ) -> LimitsPolicy {
        LimitsPolicy {
            per_transaction_limit_kopecks: per_transaction,
            daily_limit_kopecks: daily,
            monthly_limit_kopecks: monthly,
            balance_limit_kopecks: balance,
            allowed_operations,
        }
    }

    pub fn per_transaction_limit(&self) -> Kopecks {
        self.per_transaction_limit_kopecks
    }
    pub fn daily_limit(&self) -> Kopecks {
        self.daily_limit_kopecks
    }
    pub fn monthly_limit(&self) -> Kopecks {
        self.monthly_limit_kopecks
    }
    pub fn balance_limit(&self) -> Kopecks {
        self.balance_limit_kopecks
    }
    pub fn allowed_operations(&self) -> &[Operation] {
        &self.allowed_operations
    }
    pub fn allows(&self, operation: Operation) -> bool {
        self.allowed_operations.contains(&operation)
    }
}

/// A transaction already made on the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastTransaction {
    pub at: OffsetDateTime,
    pub operation: Operation,
    pub amount: Kopecks,
}

/// A transaction asked for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposedTransaction {
    pub operation: Operation,
    pub amount: Kopecks,
}

/// Why a transaction is not allowed; the message can be shown to staff as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransactionRefusal {
    #[error("amount is zero; enter an amount above 0 ₽")]
    ZeroAmount,
    #[error("operation {operation} is not allowed on a demo account")]
    OperationNotAllowed { operation: Operation },
    #[error("{amount} is above the per-transaction cap of {limit}; split it or use a full account")]
    AbovePerTransactionLimit { amount: Kopecks, limit: Kopecks },
    #[error("{amount} would exceed today's limit (Moscow time): {used} of {limit} already used")]
    DailyLimit { amount: Kopecks, used: Kopecks, limit: Kopecks },
    #[error("{amount} would exceed this month's limit (calendar month, Moscow time): {used} of {limit} already used")]
    MonthlyLimit { amount: Kopecks, used: Kopecks, limit: Kopecks },
    #[error("{amount} would take the balance {balance} above its limit of {limit}")]
    BalanceLimit { amount: Kopecks, balance: Kopecks, limit: Kopecks },
    #[error("{amount} is more than the balance {balance}")]
    InsufficientBalance { amount: Kopecks, balance: Kopecks },
}

/// Decides whether `proposed` may happen at `now`, given everything already done on the account.
/// Pure: no clock, no I/O.
pub fn check_transaction(
    policy: &LimitsPolicy,
    history: &[PastTransaction],
    proposed: &ProposedTransaction,
    now: OffsetDateTime,
) -> Result<(), TransactionRefusal> {
    let amount = proposed.amount;
    if amount == Kopecks::ZERO {
        return Err(TransactionRefusal::ZeroAmount);
    }
    if !policy.allows(proposed.operation) {
        return Err(TransactionRefusal::OperationNotAllowed { operation: proposed.operation });
    }
    let per_tx = policy.per_transaction_limit().min(Kopecks(HARD_PER_TRANSACTION_CAP_KOPECKS));
    if amount > per_tx {
        return Err(TransactionRefusal::AbovePerTransactionLimit { amount, limit: per_tx });
    }

    let today = now.to_offset(MOSCOW_OFFSET).date();
    let mut day_used = Kopecks::ZERO;
    let mut month_used = Kopecks::ZERO;
    let mut credits = Kopecks::ZERO;
    let mut debits = Kopecks::ZERO;
    for past in history {
        let date = past.at.to_offset(MOSCOW_OFFSET).date();
        if date.year() == today.year() && date.month() == today.month() {
            month_used = month_used.saturating_add(past.amount);
            if date == today {
                day_used = day_used.saturating_add(past.amount);
            }
        }
        if past.operation.is_credit() {
            credits = credits.saturating_add(past.amount);
        } else {
            debits = debits.saturating_add(past.amount);
        }
    }

    if day_used.saturating_add(amount) > policy.daily_limit() {
        return Err(TransactionRefusal::DailyLimit { amount, used: day_used, limit: policy.daily_limit() });
    }
    if month_used.saturating_add(amount) > policy.monthly_limit() {
        return Err(TransactionRefusal::MonthlyLimit {
            amount,
            used: month_used,
            limit: policy.monthly_limit(),
        });
    }
    let balance = credits.saturating_sub(debits);
    if proposed.operation.is_credit() {
        if balance.saturating_add(amount) > policy.balance_limit() {
            return Err(TransactionRefusal::BalanceLimit { amount, balance, limit: policy.balance_limit() });
        }
    } else if amount > balance {
        return Err(TransactionRefusal::InsufficientBalance { amount, balance });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
