//! What each tier allows: one typed table, read by enforcement and by the
//! Tier & Billing page alike. Daily limits count UTC days.

use serde::{Deserialize, Serialize};

use crate::model::Tier;

pub const SECONDS_PER_DAY: i64 = 86_400;

/// `None` means unlimited (not enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLimits {
    /// Live agents (not decommissioned).
    pub agents: Option<u64>,
    pub api_calls_per_day: Option<u64>,
    pub tokens_per_day: Option<u64>,
}

impl TierLimits {
    pub const fn of(tier: Tier) -> TierLimits {
        match tier {
            Tier::Free => TierLimits {
                agents: Some(10),
                api_calls_per_day: Some(1_000),
                tokens_per_day: Some(1_000),
            },
            Tier::Pro => TierLimits {
                agents: Some(100),
                api_calls_per_day: Some(50_000),
                tokens_per_day: Some(50_000),
            },
            Tier::Enterprise => TierLimits {
                agents: None,
                api_calls_per_day: None,
                tokens_per_day: None,
            },
        }
    }
}

/// Start (unix seconds) of the UTC day containing `t`.
pub fn utc_day_start(t: i64) -> i64 {
    t.div_euclid(SECONDS_PER_DAY) * SECONDS_PER_DAY
}

/// The next 00:00 UTC after `t`, when daily counters reset.
pub fn next_utc_midnight(t: i64) -> i64 {
    utc_day_start(t) + SECONDS_PER_DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_match_the_published_table() {
        let free = TierLimits::of(Tier::Free);
        assert_eq!(
            (free.agents, free.api_calls_per_day, free.tokens_per_day),
            (Some(10), Some(1_000), Some(1_000))
        );
        let pro = TierLimits::of(Tier::Pro);
        assert_eq!(
            (pro.agents, pro.api_calls_per_day, pro.tokens_per_day),
            (Some(100), Some(50_000), Some(50_000))
        );
        let ent = TierLimits::of(Tier::Enterprise);
        assert_eq!(
            (ent.agents, ent.api_calls_per_day, ent.tokens_per_day),
            (None, None, None)
        );
    }

    #[test]
    fn days_are_utc() {
        // 2026-03-01T23:59:59Z and the midnight after it.
        assert_eq!(next_utc_midnight(1_772_409_599), 1_772_409_600);
        assert_eq!(next_utc_midnight(1_772_409_600), 1_772_496_000);
        assert_eq!(utc_day_start(1_772_409_600), 1_772_409_600);
    }
}
