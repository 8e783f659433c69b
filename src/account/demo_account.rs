//! A demo account issued locally, before the bank core knows about it.

use super::limits::LimitsPolicy;
use time::OffsetDateTime;
use uuid::{NoContext, Timestamp, Uuid};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// UUID v7: time-ordered, so ids from many kiosks sort by issue time in the core.
    pub id: Uuid,
    pub created_at: OffsetDateTime,
    pub limits: LimitsPolicy,
}

impl DemoAccount {
    pub fn issue(limits: LimitsPolicy, now: OffsetDateTime) -> DemoAccount {
        DemoAccount { id: uuid_v7_at(now), created_at: now, limits }
    }
}

/// A v7 UUID stamped with `now` (not the system clock), so callers and tests control time.
pub(crate) fn uuid_v7_at(now: OffsetDateTime) -> Uuid {
    // Times before 1970 cannot be a v7 timestamp; clamp rather than fail.
    let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(NoContext, seconds, now.nanosecond()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Kopecks, Operation};
    use time::macros::datetime;

    #[test]
    fn issues_v7_ids_in_time_order() {
        let limits = LimitsPolicy::new(
            Kopecks::rub(1),
            Kopecks::rub(2),
            Kopecks::rub(3),
            Kopecks::rub(4),
            vec![Operation::TopUp],
        )
        .unwrap();
        let a = DemoAccount::issue(limits.clone(), datetime!(2024-05-15 12:00 UTC));
        let b = DemoAccount::issue(limits, datetime!(2024-05-15 12:00:01 UTC));
        assert_eq!(a.id.get_version_num(), 7);
        assert_ne!(a.id, b.id);
        assert!(a.id < b.id);
    }
}
