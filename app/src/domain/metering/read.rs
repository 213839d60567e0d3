//! What the portal reads back of the counters: today's, for the Tier page,
//! the banner and the CLI.

use serde::Serialize;
use sqlx::FromRow;

use crate::domain::{Db, Result};
use crate::model::tiers::utc_day_start;

/// A tenant's counters for the UTC day containing `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, FromRow)]
pub struct UsageToday {
    #[sqlx(try_from = "i64")]
    pub tokens_issued: u64,
    #[sqlx(try_from = "i64")]
    pub api_calls: u64,
    #[sqlx(try_from = "i64")]
    pub refused: u64,
}

pub async fn usage_today(db: &Db, tenant_id: &str, now: i64) -> Result<UsageToday> {
    let today = sqlx::query_as(
        "SELECT tokens_issued, api_calls, refused FROM usage_daily WHERE tenant_id = $1 AND day = $2",
    )
    .bind(tenant_id)
    .bind(utc_day_start(now))
    .fetch_optional(&db.pool)
    .await?;
    Ok(today.unwrap_or_default())
}
