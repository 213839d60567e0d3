use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::tiers::Standing;
use crate::model::PlanChange;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TierPageData {
    pub standing: Standing,
    pub can_manage: bool,
    pub test_mode: bool,
    pub history: Vec<PlanChange>,
    pub now: i64,
}

#[server]
pub async fn tier_overview() -> Result<TierPageData, ServerFnError> {
    use super::ssr::{context, failed};

    let (member, services) = context()?;
    let now = services.clock.now();
    // What the banner shows, read for this page before it rendered; read
    // again only if that failed (this page then shows why).
    let standing = match crate::session::current_standing() {
        Some(standing) => standing,
        None => crate::domain::limits::standing(&services.db, &member.tenant_id, member.tier, now)
            .await
            .map_err(failed)?,
    };
    let history = crate::domain::billing::history(&services.db, &member.tenant_id, now)
        .await
        .map_err(failed)?;
    Ok(TierPageData {
        standing,
        can_manage: member.can_manage(),
        test_mode: services.billing_test_mode,
        history,
        now,
    })
}
