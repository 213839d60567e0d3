//! What each tier allows: one typed table, read by enforcement and by the
//! Tier & Billing page alike. Daily limits count UTC days.

use serde::{Deserialize, Serialize};

use super::Tier;

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

    /// Whether no daily limit applies (admission never depends on the
    /// day's counters).
    pub fn has_no_daily_limit(&self) -> bool {
        self.tokens_per_day.is_none() && self.api_calls_per_day.is_none()
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

/// How close a tenant is to one limit. Amber from 80 %, red at 100 %: the
/// Tier & Billing bars and the banner across the portal use this one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UsageLevel {
    Normal,
    Warning,
    Exhausted,
}

impl UsageLevel {
    pub fn of(used: u64, limit: Option<u64>) -> UsageLevel {
        match limit {
            None => UsageLevel::Normal,
            Some(limit) if used >= limit => UsageLevel::Exhausted,
            Some(limit) if used * 5 >= limit * 4 => UsageLevel::Warning,
            Some(_) => UsageLevel::Normal,
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            UsageLevel::Normal => "normal",
            UsageLevel::Warning => "warning",
            UsageLevel::Exhausted => "exhausted",
        }
    }
}

/// One limit of the tenant's tier and where the tenant stands against it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LimitStanding {
    pub key: String,
    pub label: String,
    pub used: u64,
    /// `None`: unlimited.
    pub limit: Option<u64>,
    /// Counted per UTC day (the agent limit is not).
    pub daily: bool,
}

impl LimitStanding {
    pub fn level(&self) -> UsageLevel {
        UsageLevel::of(self.used, self.limit)
    }

    /// Whole percent used, for bars and text; `None` when unlimited.
    pub fn percent(&self) -> Option<u64> {
        self.limit.map(|l| {
            self.used
                .saturating_mul(100)
                .checked_div(l)
                .unwrap_or(100)
                .min(100)
        })
    }
}

/// A tenant's tier and every limit, now.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Standing {
    pub tier: Tier,
    pub limits: Vec<LimitStanding>,
    /// Unix time of the next 00:00 UTC, when the daily counters reset.
    pub reset_at: i64,
    /// The last payment failed (until a later one succeeds).
    pub payment_failed: bool,
}

impl Standing {
    /// The limits at 80 % or more, the fullest first.
    pub fn alerts(&self) -> Vec<&LimitStanding> {
        let mut alerts: Vec<&LimitStanding> = self
            .limits
            .iter()
            .filter(|l| l.level() != UsageLevel::Normal)
            .collect();
        alerts.sort_by_key(|l| std::cmp::Reverse((l.level(), l.percent())));
        alerts
    }
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
    fn amber_from_80_percent_red_at_100() {
        assert_eq!(UsageLevel::of(799, Some(1_000)), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(800, Some(1_000)), UsageLevel::Warning);
        assert_eq!(UsageLevel::of(999, Some(1_000)), UsageLevel::Warning);
        assert_eq!(UsageLevel::of(1_000, Some(1_000)), UsageLevel::Exhausted);
        assert_eq!(UsageLevel::of(7, Some(10)), UsageLevel::Normal);
        assert_eq!(UsageLevel::of(8, Some(10)), UsageLevel::Warning);
        assert_eq!(UsageLevel::of(u64::MAX / 8, None), UsageLevel::Normal);
    }

    #[test]
    fn days_are_utc() {
        // 2026-03-01T23:59:59Z and the midnight after it.
        assert_eq!(next_utc_midnight(1_772_409_599), 1_772_409_600);
        assert_eq!(next_utc_midnight(1_772_409_600), 1_772_496_000);
        assert_eq!(utc_day_start(1_772_409_600), 1_772_409_600);
    }
}
