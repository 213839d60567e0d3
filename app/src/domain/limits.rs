//! Where a tenant stands against its tier's limits right now: what the Tier &
//! Billing page shows and what the portal-wide banner warns about. The
//! numbers are the ones enforcement counts against.

use super::{metering, Db, Result};
use crate::model::tiers::{next_utc_midnight, LimitStanding, Standing, TierLimits};
use crate::model::Tier;

pub async fn standing(db: &Db, tenant_id: &str, tier: Tier, now: i64) -> Result<Standing> {
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
