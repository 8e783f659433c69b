//! Exponential back-off with jitter between delivery attempts of one outbox row.
//!
//! The ceiling doubles with each failed attempt from `initial` up to `max`; the delay is drawn
//! uniformly from the upper half of the ceiling ("equal jitter"), so many kiosks that lost the
//! core at the same moment do not come back in step, and none retries sooner than half the
//! ceiling.

use std::time::Duration;

/// Bounds of the back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling after `failures` failed attempts (1 for the first failure).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let max = self.max.max(self.initial);
        let doublings = failures.saturating_sub(1).min(63);
        let factor = 1u64 << doublings;
        let nanos = u64::try_from(self.initial.as_nanos()).unwrap_or(u64::MAX).saturating_mul(factor);
        Duration::from_nanos(nanos).min(max)
    }

    /// The delay before the next attempt; `unit` is a uniform random number in `[0, 1)`
    /// (passed in so the function stays pure and testable).
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.0 };
        half + (ceiling - half).mul_f64(unit)
    }

    /// [`Backoff::delay`] with a random draw.
    pub fn delay_random(&self, failures: u32) -> Duration {
        use rand::Rng;
        self.delay(failures, rand::thread_rng().gen::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const B: Backoff = Backoff { initial: Duration::from_millis(500), max: Duration::from_secs(300) };

    #[test]
    fn doubles_then_caps() {
        assert_eq!(B.ceiling(0), Duration::from_millis(500));
        assert_eq!(B.ceiling(1), Duration::from_millis(500));
        assert_eq!(B.ceiling(2), Duration::from_secs(1));
        assert_eq!(B.ceiling(5), Duration::from_secs(8));
        assert_eq!(B.ceiling(30), Duration::from_secs(300));
        assert_eq!(B.ceiling(u32::MAX), Duration::from_secs(300));
        assert_eq!(B.delay(3, 0.0), Duration::from_secs(1));
        assert_eq!(B.delay(3, 1.0), Duration::from_secs(2));
    }

    proptest! {
        #[test]
        fn delay_within_upper_half_of_ceiling(
            initial_ms in 1u64..10_000, max_ms in 1u64..10_000_000, failures in 0u32..200, unit in 0.0f64..1.0
        ) {
            let b = Backoff { initial: Duration::from_millis(initial_ms), max: Duration::from_millis(max_ms) };
            let ceiling = b.ceiling(failures);
            let d = b.delay(failures, unit);
            prop_assert!(d <= ceiling);
            prop_assert!(d >= ceiling / 2);
            prop_assert!(ceiling <= b.max.max(b.initial));
        }

        #[test]
        fn ceiling_never_shrinks(initial_ms in 1u64..10_000, max_ms in 1u64..10_000_000, failures in 0u32..200) {
            let b = Backoff { initial: Duration::from_millis(initial_ms), max: Duration::from_millis(max_ms) };
            prop_assert!(b.ceiling(failures + 1) >= b.ceiling(failures));
        }

        #[test]
        fn odd_draws_stay_in_bounds(unit in proptest::num::f64::ANY) {
            let d = B.delay(4, unit);
            prop_assert!(d >= B.ceiling(4) / 2 && d <= B.ceiling(4));
        }
    }
}
