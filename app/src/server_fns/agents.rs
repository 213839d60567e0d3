use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Agent, Tier};

/// What the Agents page shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentsPageData {
    /// This page of the agents that match the filter.
    pub agents: Vec<Agent>,
    /// Agents that match the filter, and all of them.
    pub matching: usize,
    pub total: usize,
    pub page: usize,
    pub pages: usize,
    pub live: u64,
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
    use crate::model::analytics::AGENTS_PER_PAGE;
    use crate::model::tiers::TierLimits;
    use crate::model::AgentStatus;

    let (member, services) = context()?;
    let all = crate::domain::agents::list_recent(&services.db, &member.tenant_id, services.now())
        .await
        .map_err(failed)?;
    let live = all
        .iter()
        .filter(|a| a.status != AgentStatus::Decommissioned)
        .count() as u64;
    let q = q.trim().to_lowercase();
    let matching: Vec<&Agent> = all.iter().filter(|a| a.matches(&q, &status)).collect();
    let pages = matching.len().div_ceil(AGENTS_PER_PAGE).max(1);
    // Past the end (a stale link): the last page.
    let page = page
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let agents = matching
        .iter()
        .skip((page - 1) * AGENTS_PER_PAGE)
        .take(AGENTS_PER_PAGE)
        .map(|a| Agent::clone(a))
        .collect();
    Ok(AgentsPageData {
        agents,
        matching: matching.len(),
        total: all.len(),
        page,
        pages,
        live,
        limit: TierLimits::of(member.tier).agents,
        tier: member.tier,
        can_manage: member.can_manage(),
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
    let now = services.clock.now();
    match crate::domain::agents::get_recent(&services.db, &member.tenant_id, &id, now).await {
        Ok(agent) => Ok(Some(AgentPageData {
            agent: Agent::clone(&agent),
            can_manage: member.can_manage(),
            now,
        })),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(failed(e)),
    }
}
