//! What the billing history shows.

use serde::{Deserialize, Serialize};

use super::Tier;

/// One line of the billing history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PlanChange {
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub from: Tier,
    #[cfg_attr(feature = "ssr", sqlx(try_from = "String"))]
    pub to: Tier,
    pub changed_at: i64,
    /// A member's email, `operator` (CLI) or `Stripe <event type> <event id>`.
    pub changed_by: String,
}
