//! Money as integer kopecks: floats never touch amounts.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in kopecks (1/100 RUB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Kopecks(pub u64);

impl Kopecks {
    pub const ZERO: Kopecks = Kopecks(0);

    /// Whole roubles, for config and tests.
    pub const fn rub(roubles: u64) -> Kopecks {
        Kopecks(roubles.saturating_mul(100))
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub const fn saturating_add(self, other: Kopecks) -> Kopecks {
        Kopecks(self.0.saturating_add(other.0))
    }

    pub const fn saturating_sub(self, other: Kopecks) -> Kopecks {
        Kopecks(self.0.saturating_sub(other.0))
    }
}

/// Russian style: thousands separated by spaces, a comma before kopecks (shown only when not
/// zero), then the rouble sign: `50 000 ₽`, `1 234,05 ₽`. Plain spaces so every screen font has them.
impl fmt::Display for Kopecks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roubles = (self.0 / 100).to_string();
        let kopecks = self.0 % 100;
        let mut grouped = String::with_capacity(roubles.len() + roubles.len() / 3);
        for (i, digit) in roubles.chars().enumerate() {
            if i > 0 && (roubles.len() - i) % 3 == 0 {
                grouped.push(' ');
            }
            grouped.push(digit);
        }
        if kopecks == 0 {
            write!(f, "{grouped} ₽")
        } else {
            write!(f, "{grouped},{kopecks:02} ₽")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_russian_style() {
        assert_eq!(Kopecks(50_000_00).to_string(), "50 000 ₽");
        assert_eq!(Kopecks(0).to_string(), "0 ₽");
        assert_eq!(Kopecks(999_00).to_string(), "999 ₽");
        assert_eq!(Kopecks(1_000_00).to_string(), "1 000 ₽");
        assert_eq!(Kopecks(1_234_567_05).to_string(), "1 234 567,05 ₽");
        assert_eq!(Kopecks::rub(300_000).to_string(), "300 000 ₽");
    }
}
