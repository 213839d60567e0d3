//! Agents as the portal and the API show them.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an agent runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub const ALL: [Environment; 3] = [
        Environment::Development,
        Environment::Staging,
        Environment::Production,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Environment::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown environment {s:?} (expected development, staging or production)")
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Active,
    Suspended,
    Decommissioned,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 3] = [
        AgentStatus::Active,
        AgentStatus::Suspended,
        AgentStatus::Decommissioned,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Suspended => "suspended",
            AgentStatus::Decommissioned => "decommissioned",
        }
    }
}

impl FromStr for AgentStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentStatus::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown status {s:?} (expected active, suspended or decommissioned)")
            })
    }
}

impl Agent {
    /// The Agents page's filter: `q` (already trimmed and lower-cased, once
    /// per request rather than once per agent) in the name, type or owner
    /// (any case) or at the start of the id; `status` exactly, when given.
    pub fn matches(&self, q: &str, status: &str) -> bool {
        let text_ok = q.is_empty()
            || self.name.to_lowercase().contains(q)
            || self.agent_type.to_lowercase().contains(q)
            || self.owner.to_lowercase().contains(q)
            || self.id.starts_with(q);
        text_ok && (status.is_empty() || self.status.as_str() == status)
    }
}

/// One page of a tenant's agents, as the Agents page lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentListPage {
    /// This page of the agents that match the filter, newest first.
    pub agents: Vec<Agent>,
    /// Agents that match the filter, and all of them.
    pub matching: usize,
    pub total: usize,
    /// This page (from 1) and the number of pages.
    pub page: usize,
    pub pages: usize,
    /// Agents not decommissioned (what the tier's limit counts).
    pub live: u64,
}

/// An agent as the portal and the API show it (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Agent {
    /// The agent's OAuth client id.
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub agent_type: String,
    pub version: String,
    pub capabilities: Vec<String>,
    pub owner: String,
    pub environment: Environment,
    pub status: AgentStatus,
    /// Unix seconds, like `updated_at`.
    pub created_at: i64,
    pub updated_at: i64,
    /// When the agent last got a token (unix seconds), if ever.
    pub last_token_at: Option<i64>,
}
