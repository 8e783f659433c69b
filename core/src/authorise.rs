//! `POST /v1/authorisations`: the bank's processing asks before a demo account's transaction.
//! The answer is the kiosk's own pure `check_transaction` over the account's limits and its
//! approved history, taken under the account's row lock (`SELECT ... FOR UPDATE`), with the
//! approved amount written in the same transaction: two gateways serialise on the row, so
//! concurrent requests can never pass a cap together. Idempotent by `authorisation_id`.

use crate::error::CoreError;
use crate::http::Answer;
use crate::server::Core;
use kiosk::account::{
    check_transaction, Kopecks, LimitsPolicy, Operation, PastTransaction, ProposedTransaction, TransactionRefusal, MOSCOW_OFFSET,
};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use time::{OffsetDateTime, Time};
use uuid::Uuid;

const ENDPOINT: &str = "authorisations";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    authorisation_id: Uuid,
    account_id: Uuid,
    operation: Operation,
    amount_kopecks: u64,
}

fn refused(core: &Core, status: u16, reason: &'static str, message: String) -> Answer {
    core.metrics.refusal(ENDPOINT, reason);
    Answer::error(status, message)
}

/// A stable code per refusal, for the processing to act on.
fn code(r: &TransactionRefusal) -> &'static str {
    match r {
        TransactionRefusal::ZeroAmount => "zero_amount",
        TransactionRefusal::OperationNotAllowed { .. } => "operation_not_allowed",
        TransactionRefusal::AbovePerTransactionLimit { .. } => "per_transaction_limit",
        TransactionRefusal::DailyLimit { .. } => "daily_limit",
        TransactionRefusal::MonthlyLimit { .. } => "monthly_limit",
        TransactionRefusal::BalanceLimit { .. } => "balance_limit",
        TransactionRefusal::InsufficientBalance { .. } => "insufficient_balance",
    }
}

/// The first instant of the current calendar month in Moscow time.
fn month_start(now: OffsetDateTime) -> OffsetDateTime {
    let local = now.to_offset(MOSCOW_OFFSET);
    let first = local.date().replace_day(1).unwrap_or(local.date());
    first.with_time(Time::MIDNIGHT).assume_offset(MOSCOW_OFFSET)
}

pub async fn authorise(core: &Arc<Core>, body: &[u8]) -> Answer {
    let request: Request = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return refused(
                core,
                400,
                "malformed_body",
                format!("expected {{authorisation_id, account_id, operation, amount_kopecks}}: {e}"),
            )
        }
    };
    if i64::try_from(request.amount_kopecks).is_err() {
        return refused(core, 400, "malformed_body", "amount_kopecks is out of range".into());
    }
    match decide(core, &request).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::error!(%error, "authorisation not processed; answered 503");
            Answer::unavailable(&error)
        }
    }
}

async fn decide(core: &Arc<Core>, r: &Request) -> Result<Answer, CoreError> {
    let amount = i64::try_from(r.amount_kopecks).unwrap_or(i64::MAX);
    let mut client = core.pool.get().await?;
    let tx = client.transaction().await?;
    let Some(account) = tx
        .query_opt("SELECT state, limits, balance_kopecks FROM accounts WHERE account_id = $1 FOR UPDATE", &[&r.account_id])
        .await?
    else {
        return Ok(refused(core, 404, "unknown_account", format!("no demo account {}", r.account_id)));
    };
    if let Some(done) = tx
        .query_opt(
            "SELECT account_id, operation, amount_kopecks, approved, refusal FROM authorisations WHERE authorisation_id = $1",
            &[&r.authorisation_id],
        )
        .await?
    {
        let same = done.get::<_, Uuid>(0) == r.account_id
            && done.get::<_, String>(1) == r.operation.as_str()
            && done.get::<_, i64>(2) == amount;
        if !same {
            return Ok(refused(core, 409, "authorisation_id_reused", "authorisation_id was used for another transaction".into()));
        }
        let refusal: Option<String> = done.get(4);
        return Ok(Answer::json(
            200,
            json!({ "authorisation_id": r.authorisation_id, "approved": done.get::<_, bool>(3), "refusal": refusal, "repeated": true }),
        ));
    }
    let state: String = account.get(0);
    if state != "active" {
        let why = match state.as_str() {
            "provisional" => "the account is not activated yet (pending): the customer must redeem the activation token first",
            _ => "the account is blocked: this person already has a demo account",
        };
        return Ok(refused(core, 403, "account_not_active", why.into()));
    }
    let policy: LimitsPolicy = serde_json::from_value(account.get(1)).map_err(|e| CoreError::Corrupt(format!("limits of {}: {e}", r.account_id)))?;
    let balance: i64 = account.get(2);
    let now = OffsetDateTime::now_utc();
    let since = month_start(now);
    let rows = tx
        .query(
            "SELECT operation, amount_kopecks, at FROM authorisations WHERE account_id = $1 AND approved AND at >= $2",
            &[&r.account_id, &since],
        )
        .await?;
    let mut history = Vec::with_capacity(rows.len() + 1);
    let mut net_this_month: i64 = 0;
    for row in &rows {
        let operation = Operation::from_name(row.get(0)).ok_or_else(|| CoreError::Corrupt("operation name".into()))?;
        let amount: i64 = row.get(1);
        net_this_month += if operation.is_credit() { amount } else { -amount };
        history.push(PastTransaction { at: row.get(2), operation, amount: Kopecks(u64::try_from(amount).unwrap_or(0)) });
    }
    // Earlier months count only for the balance: one credit of the balance at the month's start.
    let opening = balance.saturating_sub(net_this_month).max(0);
    if opening > 0 {
        history.push(PastTransaction {
            at: OffsetDateTime::UNIX_EPOCH,
            operation: Operation::TopUp,
            amount: Kopecks(u64::try_from(opening).unwrap_or(0)),
        });
    }
    let proposed = ProposedTransaction { operation: r.operation, amount: Kopecks(r.amount_kopecks) };
    let decision = check_transaction(&policy, &history, &proposed, now);
    let refusal = decision.as_ref().err().map(|e| format!("{}: {e}", code(e)));
    tx.execute(
        "INSERT INTO authorisations (authorisation_id, account_id, operation, amount_kopecks, at, approved, refusal) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&r.authorisation_id, &r.account_id, &r.operation.as_str(), &amount, &now, &decision.is_ok(), &refusal],
    )
    .await?;
    if decision.is_ok() {
        let delta = if r.operation.is_credit() { amount } else { -amount };
        tx.execute("UPDATE accounts SET balance_kopecks = balance_kopecks + $2 WHERE account_id = $1", &[&r.account_id, &delta]).await?;
    }
    tx.commit().await?;
    Ok(Answer::json(200, json!({ "authorisation_id": r.authorisation_id, "approved": decision.is_ok(), "refusal": refusal })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_starts_at_moscow_midnight() {
        // 2026-02-28 22:30 UTC is already 1 March in Moscow.
        let now = time::macros::datetime!(2026-02-28 22:30 UTC);
        assert_eq!(month_start(now), time::macros::datetime!(2026-03-01 00:00 +3));
        let now = time::macros::datetime!(2026-03-15 12:00 UTC);
        assert_eq!(month_start(now), time::macros::datetime!(2026-02-28 21:00 UTC));
    }
}
