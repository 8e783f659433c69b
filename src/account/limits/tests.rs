use super::*;
use crate::testing;
use proptest::prelude::*;
use time::macros::datetime;

fn policy() -> LimitsPolicy {
    testing::limits(&Operation::ALL)
}

fn past(at: OffsetDateTime, operation: Operation, rub: u64) -> PastTransaction {
    PastTransaction { at, operation, amount: Kopecks::rub(rub) }
}

fn propose(operation: Operation, rub: u64) -> ProposedTransaction {
    ProposedTransaction { operation, amount: Kopecks::rub(rub) }
}

#[test]
fn constructor_refuses_above_hard_cap_and_wrong_order() {
    let big = Kopecks(HARD_PER_TRANSACTION_CAP_KOPECKS + 1);
    assert!(matches!(
        LimitsPolicy::new(big, Kopecks(u64::MAX), Kopecks(u64::MAX), Kopecks(0), vec![]),
        Err(LimitsError::AboveHardCap { .. })
    ));
    assert!(matches!(
        LimitsPolicy::new(Kopecks(10), Kopecks(5), Kopecks(100), Kopecks(0), vec![]),
        Err(LimitsError::PerTransactionAboveDaily { .. })
    ));
    assert!(matches!(
        LimitsPolicy::new(Kopecks(10), Kopecks(50), Kopecks(20), Kopecks(0), vec![]),
        Err(LimitsError::DailyAboveMonthly { .. })
    ));
    let cap = Kopecks(HARD_PER_TRANSACTION_CAP_KOPECKS);
    assert!(LimitsPolicy::new(cap, cap, cap, Kopecks(0), vec![]).is_ok());
}

#[test]
fn deserialising_goes_through_validation() {
    let p = policy();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(serde_json::from_str::<LimitsPolicy>(&json).unwrap(), p);
    let forged = json.replace("1500000", "9900000");
    assert!(serde_json::from_str::<LimitsPolicy>(&forged).is_err());
}

#[test]
fn refuses_with_reasons() {
    let now = datetime!(2024-05-15 12:00 UTC);
    let p = testing::demo_limits();
    assert_eq!(
        check_transaction(&p, &[], &propose(Operation::TopUp, 0), now),
        Err(TransactionRefusal::ZeroAmount)
    );
    assert!(matches!(
        check_transaction(&p, &[], &propose(Operation::CashWithdrawal, 1), now),
        Err(TransactionRefusal::OperationNotAllowed { operation: Operation::CashWithdrawal })
    ));
    assert!(matches!(
        check_transaction(&p, &[], &propose(Operation::TopUp, 15_001), now),
        Err(TransactionRefusal::AbovePerTransactionLimit { .. })
    ));
    assert_eq!(check_transaction(&p, &[], &propose(Operation::TopUp, 15_000), now), Ok(()));
    assert!(matches!(
        check_transaction(&p, &[], &propose(Operation::Payment, 1), now),
        Err(TransactionRefusal::InsufficientBalance { .. })
    ));
}

#[test]
fn daily_cap_uses_moscow_day() {
    let p = policy();
    // 22:30 UTC on the 14th is 01:30 on the 15th in Moscow: same Moscow day as `now`.
    let history = [
        past(datetime!(2024-05-14 22:30 UTC), Operation::TopUp, 15_000),
        past(datetime!(2024-05-15 01:00 UTC), Operation::TopUp, 10_000),
    ];
    let now = datetime!(2024-05-15 20:00 UTC); // 23:00 Moscow, still the 15th
    let refusal = check_transaction(&p, &history, &propose(Operation::TopUp, 5_001), now);
    assert!(matches!(refusal, Err(TransactionRefusal::DailyLimit { .. })), "{refusal:?}");
    assert_eq!(check_transaction(&p, &history, &propose(Operation::TopUp, 5_000), now), Ok(()));
    // 21:00 UTC is midnight in Moscow: a new day.
    let tomorrow = datetime!(2024-05-15 21:00 UTC);
    assert_eq!(check_transaction(&p, &history, &propose(Operation::TopUp, 15_000), tomorrow), Ok(()));
}

#[test]
fn monthly_cap_uses_moscow_calendar_month() {
    let p = policy();
    let history: Vec<_> = (1..=4)
        .map(|d| {
            past(datetime!(2024-05-01 00:00 UTC) + time::Duration::days(d * 3), Operation::TopUp, 25_000)
        })
        .chain([past(datetime!(2024-05-20 00:00 UTC), Operation::CashWithdrawal, 1_000)])
        .collect();
    let now = datetime!(2024-05-31 20:59 UTC); // 23:59 Moscow, 31 May
    let refusal = check_transaction(&p, &history, &propose(Operation::Payment, 1), now);
    assert!(matches!(refusal, Err(TransactionRefusal::MonthlyLimit { .. })), "{refusal:?}");
    let june = datetime!(2024-05-31 21:00 UTC); // 00:00 Moscow, 1 June
    assert_eq!(check_transaction(&p, &history, &propose(Operation::Payment, 1_000), june), Ok(()));
    assert!(refusal.unwrap_err().to_string().contains("Moscow"));
}

#[test]
fn balance_cap_applies_to_credits() {
    let p = policy();
    let history = [
        past(datetime!(2024-04-01 10:00 UTC), Operation::TopUp, 15_000),
        past(datetime!(2024-04-02 10:00 UTC), Operation::TopUp, 15_000),
        past(datetime!(2024-04-03 10:00 UTC), Operation::TopUp, 15_000),
        past(datetime!(2024-04-04 10:00 UTC), Operation::IncomingTransfer, 10_000),
    ];
    let now = datetime!(2024-05-15 12:00 UTC);
    assert!(matches!(
        check_transaction(&p, &history, &propose(Operation::TopUp, 5_001), now),
        Err(TransactionRefusal::BalanceLimit { .. })
    ));
    assert_eq!(check_transaction(&p, &history, &propose(Operation::TopUp, 5_000), now), Ok(()));
    assert_eq!(check_transaction(&p, &history, &propose(Operation::Payment, 15_000), now), Ok(()));
}

fn any_operation() -> impl Strategy<Value = Operation> {
    proptest::sample::select(Operation::ALL.to_vec())
}

proptest! {
    /// Even a policy that never went through the constructor cannot allow more than 50,000 RUB.
    #[test]
    fn nothing_above_hard_cap_is_ever_allowed(
        per_tx in any::<u64>(), daily in any::<u64>(), monthly in any::<u64>(), balance in any::<u64>(),
        amount in (HARD_PER_TRANSACTION_CAP_KOPECKS + 1)..=u64::MAX,
        credit_first in any::<u64>(),
        op in any_operation(),
        validated in any::<bool>(),
    ) {
        let policy = if validated {
            match LimitsPolicy::new(Kopecks(per_tx), Kopecks(daily), Kopecks(monthly), Kopecks(balance), Operation::ALL.to_vec()) {
                Ok(p) => p,
                Err(_) => {
                    prop_assert!(per_tx > HARD_PER_TRANSACTION_CAP_KOPECKS || per_tx > daily || daily > monthly);
                    return Ok(());
                }
            }
        } else {
            LimitsPolicy::unchecked(Kopecks(per_tx), Kopecks(daily), Kopecks(monthly), Kopecks(balance), Operation::ALL.to_vec())
        };
        let now = datetime!(2024-05-15 12:00 UTC);
        let history = [PastTransaction { at: datetime!(2020-01-01 00:00 UTC), operation: Operation::TopUp, amount: Kopecks(credit_first) }];
        let proposed = ProposedTransaction { operation: op, amount: Kopecks(amount) };
        prop_assert!(check_transaction(&policy, &history, &proposed, now).is_err());
    }

    /// Replaying random transactions and keeping only the accepted ones never leaves a Moscow
    /// day, a Moscow month or the balance above its cap.
    #[test]
    fn accepted_transactions_never_exceed_caps(
        per_tx in 1u64..=HARD_PER_TRANSACTION_CAP_KOPECKS,
        daily_extra in 0u64..20_000_000,
        monthly_extra in 0u64..50_000_000,
        balance in 0u64..100_000_000,
        steps in proptest::collection::vec((0i64..90 * 24 * 60, any_operation(), 1u64..6_000_000), 1..120),
    ) {
        let daily = per_tx + daily_extra;
        let monthly = daily + monthly_extra;
        let p = LimitsPolicy::new(Kopecks(per_tx), Kopecks(daily), Kopecks(monthly), Kopecks(balance), Operation::ALL.to_vec()).unwrap();
        let start = datetime!(2024-01-31 18:00 UTC);
        let mut times: Vec<_> = steps.iter().map(|s| s.0).collect();
        times.sort_unstable();
        let mut history: Vec<PastTransaction> = Vec::new();
        for (minute, (_, op, amount)) in times.into_iter().zip(steps) {
            let now = start + time::Duration::minutes(minute);
            let proposed = ProposedTransaction { operation: op, amount: Kopecks(amount) };
            if check_transaction(&p, &history, &proposed, now).is_ok() {
                history.push(PastTransaction { at: now, operation: op, amount: Kopecks(amount) });
                let msk = now.to_offset(MOSCOW_OFFSET).date();
                let (mut day, mut month, mut credits, mut debits) = (0u64, 0u64, 0u64, 0u64);
                for t in &history {
                    let d = t.at.to_offset(MOSCOW_OFFSET).date();
                    if d == msk { day += t.amount.0; }
                    if (d.year(), d.month()) == (msk.year(), msk.month()) { month += t.amount.0; }
                    if t.operation.is_credit() { credits += t.amount.0 } else { debits += t.amount.0 }
                    prop_assert!(t.amount.0 <= per_tx);
                }
                prop_assert!(day <= daily, "day {day} > {daily}");
                prop_assert!(month <= monthly, "month {month} > {monthly}");
                prop_assert!(debits <= credits);
                prop_assert!(credits - debits <= balance);
            }
        }
    }
}
