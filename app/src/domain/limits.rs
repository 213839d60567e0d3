//! Where a tenant stands against its tier's limits right now: what the Tier &
//! Billing page shows and what the portal-wide banner warns about. The
//! numbers are the ones enforcement counts against.

use super::{metering, Db, Result};
use crate::model::tiers::{next_utc_midnight, LimitStanding, Standing, TierLimits};
use crate::model::Tier;

/// Every page's banner reads this: kept for the current second while
/// nothing is written (see `RecentReads`).
pub async fn standing(db: &Db, tenant_id: &str, tier: Tier, now: i64) -> Result<Standing> {
    let view = format!("standing {}", tier.as_str());
    let read = db
        .recent
        .get_or_read(tenant_id, view, now, || {
            read_standing(db, tenant_id, tier, now)
        })
        .await?;
    Ok(Standing::clone(&read))
}

async fn read_standing(db: &Db, tenant_id: &str, tier: Tier, now: i64) -> Result<Standing> {
    let limits = TierLimits::of(tier);
    let today = metering::usage_today(db, tenant_id, now).await?;
    let live = super::agents::count_live(&db.pool, tenant_id).await?;
    let limit =
        |key: &str, label: &str, used: u64, limit: Option<u64>, daily: bool| LimitStanding {
            key: key.into(),
            label: label.into(),
            used,
            limit,
            daily,
        };
    Ok(Standing {
        tier,
        limits: vec![
            limit("agents", "Agents", live, limits.agents, false),
            limit(
                "api_calls",
                "API calls today",
                today.api_calls,
                limits.api_calls_per_day,
                true,
            ),
            limit(
                "tokens",
                "Token issuances today",
                today.tokens_issued,
                limits.tokens_per_day,
                true,
            ),
        ],
        reset_at: next_utc_midnight(now),
        payment_failed: super::billing::account(db, tenant_id)
            .await?
            .payment_failed_at
            .is_some(),
    })
}
