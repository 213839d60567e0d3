use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::agents::AgentListPage;
use crate::model::{Agent, AuthFailures, Credential, Tier};

/// What the Agents page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentsPageData {
    /// The page of agents, shared with every request for it this second.
    pub list: Arc<AgentListPage>,
    pub limit: Option<u64>,
    pub tier: Tier,
    pub can_manage: bool,
    pub now: i64,
}

/// The Agents page: the tenant's agents filtered by `q` and `status`,
/// newest first, `page` (from 1) of them.
#[server]
pub async fn agents_overview(
    q: String,
    status: String,
    page: Option<String>,
) -> Result<AgentsPageData, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::model::tiers::TierLimits;

    let (member, services) = context()?;
    // Not a number: the first page.
    let page = page.and_then(|p| p.parse().ok()).unwrap_or(1);
    let now = services.now();
    let list =
        crate::domain::agents::page_recent(&services.db, &member.tenant_id, &q, &status, page, now)
            .await
            .map_err(failed)?;
    Ok(AgentsPageData {
        list,
        limit: TierLimits::of(member.tier).agents,
        tier: member.tier,
        can_manage: member.can_manage(),
        now,
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentPageData {
    pub agent: Agent,
    /// Its secrets, newest first.
    pub credentials: Vec<Credential>,
    /// Failed authentications at the token endpoints.
    pub auth_failures: AuthFailures,
    pub can_manage: bool,
    pub now: i64,
}

/// One agent of the signed-in member's tenant (another tenant's is not found).
#[server]
pub async fn agent_detail(id: String) -> Result<Option<AgentPageData>, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::domain::Error;

    let (member, services) = context()?;
    let now = services.clock.now();
    match crate::domain::agents::get_recent(&services.db, &member.tenant_id, &id, now).await {
        Ok(agent) => {
            let credentials = crate::domain::agents::credentials::list_recent(
                &services.db,
                &member.tenant_id,
                &agent.id,
                now,
            )
            .await
            .map_err(failed)?;
            let auth_failures = crate::domain::agents::failed_auth::recent(
                &services.db,
                &member.tenant_id,
                &agent.id,
                now,
            )
            .await
            .map_err(failed)?;
            Ok(Some(AgentPageData {
                agent: Agent::clone(&agent),
                credentials: Vec::clone(&credentials),
                auth_failures,
                can_manage: member.can_manage(),
                now,
            }))
        }
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(failed(e)),
    }
}
