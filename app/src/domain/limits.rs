//! Where a tenant stands against its tier's limits right now: what the Tier &
//! Billing page shows and what the portal-wide banner warns about. The
//! numbers are the ones enforcement counts against.

use sqlx::Row;

use super::{metering, Db, Result};
use crate::model::Tier;
use crate::tiers::{next_utc_midnight, LimitStanding, Standing, TierLimits};

pub async fn standing(db: &Db, tenant_id: &str, tier: Tier, now: i64) -> Result<Standing> {
    let limits = TierLimits::of(tier);
    let today = metering::usage_today(db, tenant_id, now).await?;
    let live: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM agents WHERE tenant_id = $1 AND status <> 'decommissioned'",
    )
    .bind(tenant_id)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
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
            limit("agents", "Agents", live as u64, limits.agents, false),
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
