use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Agent, Tier};

/// What the Agents page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentsPageData {
    pub agents: Vec<Agent>,
    pub live: u64,
    pub limit: Option<u64>,
    pub tier: Tier,
    pub can_manage: bool,
    pub now: i64,
}

#[server]
pub async fn agents_overview() -> Result<AgentsPageData, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::model::tiers::TierLimits;
    use crate::model::AgentStatus;

    let (member, services) = context()?;
    let agents = crate::domain::agents::list(&services.db, &member.tenant_id)
        .await
        .map_err(failed)?;
    let live = agents
        .iter()
        .filter(|a| a.status != AgentStatus::Decommissioned)
        .count() as u64;
    Ok(AgentsPageData {
        agents,
        live,
        limit: TierLimits::of(member.tier).agents,
        tier: member.tier,
        can_manage: member.role.can_manage(),
        now: services.clock.now(),
    })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentPageData {
    pub agent: Agent,
    pub can_manage: bool,
    pub now: i64,
}

/// One agent of the signed-in member's tenant (another tenant's is not found).
#[server]
pub async fn agent_detail(id: String) -> Result<Option<AgentPageData>, ServerFnError> {
    use super::ssr::{context, failed};
    use crate::domain::Error;

    let (member, services) = context()?;
    match crate::domain::agents::get(&services.db, &member.tenant_id, &id).await {
        Ok(agent) => Ok(Some(AgentPageData {
            agent,
            can_manage: member.role.can_manage(),
            now: services.clock.now(),
        })),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(failed(e)),
    }
}
