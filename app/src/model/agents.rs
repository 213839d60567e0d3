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
    /// When its current secret expires (unix seconds); `None`: never.
    pub secret_expires_at: Option<i64>,
    /// The resources (RFC 8707: absolute URIs) it may ask tokens for,
    /// compared exactly as written.
    pub resources: Vec<String>,
}

/// How long a replaced secret keeps working after a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overlap {
    Hour,
    Day,
    Week,
    Month,
}

impl Overlap {
    pub const ALL: [Overlap; 4] = [Overlap::Hour, Overlap::Day, Overlap::Week, Overlap::Month];

    pub fn secs(self) -> i64 {
        match self {
            Overlap::Hour => 3600,
            Overlap::Day => 86_400,
            Overlap::Week => 7 * 86_400,
            Overlap::Month => 30 * 86_400,
        }
    }

    /// The form's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Hour => "1h",
            Overlap::Day => "24h",
            Overlap::Week => "7d",
            Overlap::Month => "30d",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Overlap::Hour => "1 hour",
            Overlap::Day => "24 hours",
            Overlap::Week => "7 days",
            Overlap::Month => "30 days",
        }
    }
}

impl FromStr for Overlap {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Overlap::ALL
            .into_iter()
            .find(|o| o.as_str() == s.trim())
            .ok_or_else(|| "Choose how long the previous secret keeps working: 1 hour, 24 hours, 7 days or 30 days.".into())
    }
}

/// When a new secret expires by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SecretExpiry {
    Never,
    Days(u16),
}

impl SecretExpiry {
    pub const ALL: [SecretExpiry; 5] = [
        SecretExpiry::Never,
        SecretExpiry::Days(30),
        SecretExpiry::Days(90),
        SecretExpiry::Days(180),
        SecretExpiry::Days(365),
    ];

    /// When a secret made at `now` expires.
    pub fn at(self, now: i64) -> Option<i64> {
        match self {
            SecretExpiry::Never => None,
            SecretExpiry::Days(d) => Some(now + i64::from(d) * 86_400),
        }
    }

    /// The form's value: `never` or the number of days.
    pub fn as_value(self) -> String {
        match self {
            SecretExpiry::Never => "never".into(),
            SecretExpiry::Days(d) => d.to_string(),
        }
    }

    pub fn label(self) -> String {
        match self {
            SecretExpiry::Never => "Never".into(),
            SecretExpiry::Days(d) => format!("In {d} days"),
        }
    }
}

impl FromStr for SecretExpiry {
    type Err = String;
    /// Empty means never.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(SecretExpiry::Never);
        }
        SecretExpiry::ALL
            .into_iter()
            .find(|e| e.as_value() == s)
            .ok_or_else(|| {
                "Choose when the secret expires: never, or in 30, 90, 180 or 365 days.".into()
            })
    }
}

/// Where a secret stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CredentialStatus {
    Active,
    /// Works, but not for long: replaced by a newer secret (its overlap
    /// window), or expiring within [`EXPIRING_WITHIN_SECS`].
    Expiring,
    Expired,
    Retired,
}

impl CredentialStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::Active => "active",
            CredentialStatus::Expiring => "expiring",
            CredentialStatus::Expired => "expired",
            CredentialStatus::Retired => "retired",
        }
    }
}

/// A secret expiring this soon is flagged on the Agents page.
pub const EXPIRING_WITHIN_SECS: i64 = 14 * 86_400;

/// One of an agent's secrets, as its page shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    /// Not secret: `ais_…a1b2`.
    pub label: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub replaced_at: Option<i64>,
    /// Minute precision.
    pub last_used_at: Option<i64>,
}

impl Credential {
    pub fn status(&self, now: i64) -> CredentialStatus {
        match (self.retired_at, self.expires_at) {
            (Some(_), _) => CredentialStatus::Retired,
            (None, Some(at)) if at <= now => CredentialStatus::Expired,
            (None, Some(at)) if self.replaced_at.is_some() || at - now <= EXPIRING_WITHIN_SECS => {
                CredentialStatus::Expiring
            }
            _ => CredentialStatus::Active,
        }
    }

    /// It still authenticates.
    pub fn is_live(&self, now: i64) -> bool {
        matches!(
            self.status(now),
            CredentialStatus::Active | CredentialStatus::Expiring
        )
    }
}

/// Why a client authentication at the token endpoints failed, as the
/// agent's page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthFailureReason {
    /// A secret the agent never had: a typo, or someone guessing.
    WrongSecret,
    /// One of the agent's former secrets (rotated out, retired, expired):
    /// a copy that has not switched.
    FormerSecret,
    /// Too many failures: further requests of that kind are refused until
    /// the throttle's window ends.
    Throttled,
}

impl AuthFailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailureReason::WrongSecret => "wrong_secret",
            AuthFailureReason::FormerSecret => "former_secret",
            AuthFailureReason::Throttled => "throttled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            AuthFailureReason::WrongSecret,
            AuthFailureReason::FormerSecret,
            AuthFailureReason::Throttled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What a throttle refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThrottleScope {
    /// This agent from this address: everything, the right secret too.
    ThisAddress,
    /// This agent from any address: failures, and the right secret from
    /// addresses that failed.
    AnyAddress,
    /// Any agent from this address: failures, and the right secret of
    /// agents that failed from it.
    EveryAgent,
    /// One of this agent's former secrets.
    FormerSecret,
}

impl ThrottleScope {
    const ALL: [ThrottleScope; 4] = [
        ThrottleScope::ThisAddress,
        ThrottleScope::AnyAddress,
        ThrottleScope::EveryAgent,
        ThrottleScope::FormerSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::ThisAddress => "this_address",
            ThrottleScope::AnyAddress => "any_address",
            ThrottleScope::EveryAgent => "every_agent",
            ThrottleScope::FormerSecret => "former_secret",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == s)
    }

    /// What the agent's page says the throttle refuses.
    pub fn describe(self) -> &'static str {
        match self {
            ThrottleScope::ThisAddress => {
                "too many failures from this address: its requests are refused, the right secret too"
            }
            ThrottleScope::AnyAddress => {
                "too many failures from many addresses: failures are refused everywhere, and the right secret from addresses that failed"
            }
            ThrottleScope::EveryAgent => {
                "too many failures from this address for any agent: its failures are refused, and the right secret of agents that failed from it"
            }
            ThrottleScope::FormerSecret => {
                "a former secret kept coming from this address: it is refused"
            }
        }
    }
}

/// One failed client authentication of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailure {
    pub at: i64,
    pub client_ip: String,
    pub reason: AuthFailureReason,
    /// The former secret presented (`ais_…a1b2`).
    pub credential_label: Option<String>,
    /// For a throttle: what it refuses, and until when.
    pub scope: Option<ThrottleScope>,
    pub until: Option<i64>,
}

/// An agent's recent failed authentications.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFailures {
    /// In the last 24 hours.
    pub last_day: u64,
    /// The latest, newest first (at most `AuthFailures::SHOWN`, from the last 7 days).
    pub latest: Vec<AuthFailure>,
}

impl AuthFailures {
    pub const SHOWN: usize = 20;
}
