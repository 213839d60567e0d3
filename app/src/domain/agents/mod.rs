//! Agents: the OAuth clients of a tenant, registered, listed, suspended,
//! rotated and decommissioned here.

mod clients;
pub mod credentials;
pub mod failed_auth;
mod secrets;
mod validation;

use sqlx::FromRow;

use super::audit::{self, By};
use super::db::Backend;
use super::error::Thing;
use super::keys::ServerKeys;
use super::{Db, Error, Result};
use crate::model::agents::AgentListPage;
use crate::model::analytics::AGENTS_PER_PAGE;
use crate::model::tiers::TierLimits;
use crate::model::{Agent, AgentStatus, AuditAction, Environment, Tier};

pub use clients::{for_client, Client, ClientCache, Secret, CLIENT_CACHE_TTL};
pub use failed_auth::AuthBlocks;
pub use secrets::{hash_secret, secret_matches, ClientSecret};
use validation::validate;
pub use validation::{check_resource, parse_resources};

#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub name: String,
    pub agent_type: String,
    pub version: String,
    /// `resource:action` strings
    pub capabilities: Vec<String>,
    pub owner: String,
    pub environment: String,
    /// When the first secret expires: `never` (or empty) or 30, 90, 180,
    /// 365 (days).
    pub secret_expires: String,
    /// The resources it may ask tokens for: absolute URIs separated by
    /// spaces, commas or new lines (optional).
    pub resources: String,
}

/// The columns an agent is written with.
const INSERT_COLUMNS: &str = "id, tenant_id, name, agent_type, version, capabilities, owner, \
     environment, status, created_at, updated_at, last_token_at, resources";

/// What an [`AgentRow`] reads: the columns, and when the current secret
/// (the newest not replaced nor retired) expires.
pub(crate) const COLUMNS: &str = "id, tenant_id, name, agent_type, version, capabilities, owner, \
     environment, status, created_at, updated_at, last_token_at, resources, \
     (SELECT MIN(c.expires_at) FROM agent_credentials c WHERE c.agent_id = agents.id \
      AND c.retired_at IS NULL AND c.replaced_at IS NULL) AS secret_expires_at";

/// An `agents` row as stored: capabilities space-separated.
#[derive(FromRow)]
pub(crate) struct AgentRow {
    id: String,
    tenant_id: String,
    name: String,
    agent_type: String,
    version: String,
    capabilities: String,
    owner: String,
    #[sqlx(try_from = "String")]
    environment: Environment,
    #[sqlx(try_from = "String")]
    status: AgentStatus,
    created_at: i64,
    updated_at: i64,
    last_token_at: Option<i64>,
    resources: String,
    secret_expires_at: Option<i64>,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Agent {
        Agent {
            id: r.id,
            tenant_id: r.tenant_id,
            name: r.name,
            agent_type: r.agent_type,
            version: r.version,
            capabilities: r
                .capabilities
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            owner: r.owner,
            environment: r.environment,
            status: r.status,
            created_at: r.created_at,
            updated_at: r.updated_at,
            last_token_at: r.last_token_at,
            secret_expires_at: r.secret_expires_at,
            resources: r
                .resources
                .split(' ')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Agents that count against the tier's agent limit (not decommissioned).
pub async fn count_live<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    tenant_id: &str,
) -> Result<u64> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM agents WHERE tenant_id = $1 AND status <> 'decommissioned'",
    )
    .bind(tenant_id)
    .fetch_one(executor)
    .await?;
    Ok(n as u64)
}

/// Creates an agent unless the tenant's tier allows no more live agents.
pub async fn create(
    db: &Db,
    keys: &ServerKeys,
    tenant_id: &str,
    new: NewAgent,
    now: i64,
    by: &By,
) -> Result<(Agent, ClientSecret)> {
    let valid = validate(new)?;
    let mut tx = db.pool.begin().await?;
    // Take the tenant's row lock first so that concurrent creations count one
    // after the other (SQLite: the write lock; PostgreSQL: the row lock).
    let lock = match db.backend {
        Backend::Sqlite => "UPDATE tenants SET tier = tier WHERE id = $1 RETURNING tier",
        Backend::Postgres => "SELECT tier FROM tenants WHERE id = $1 FOR UPDATE",
    };
    let tier: Tier = sqlx::query_scalar::<_, String>(lock)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound(Thing::Tenant))?
        .parse()
        .map_err(Error::Internal)?;
    if let Some(limit) = TierLimits::of(tier).agents {
        if count_live(&mut *tx, tenant_id).await? >= limit {
            return Err(Error::AgentLimitReached { tier, limit });
        }
    }
    let agent = Agent {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_owned(),
        name: valid.name,
        agent_type: valid.agent_type,
        version: valid.version,
        capabilities: valid.capabilities,
        owner: valid.owner,
        environment: valid.environment,
        status: AgentStatus::Active,
        created_at: now,
        updated_at: now,
        last_token_at: None,
        secret_expires_at: valid.expiry.at(now),
        resources: valid.resources,
    };
    sqlx::query(&format!(
        "INSERT INTO agents ({INSERT_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&agent.id)
    .bind(&agent.tenant_id)
    .bind(&agent.name)
    .bind(&agent.agent_type)
    .bind(&agent.version)
    .bind(agent.capabilities.join(" "))
    .bind(&agent.owner)
    .bind(agent.environment.as_str())
    .bind(agent.status.as_str())
    .bind(agent.created_at)
    .bind(agent.updated_at)
    .bind(agent.last_token_at)
    .bind(agent.resources.join(" "))
    .execute(&mut *tx)
    .await?;
    let (secret, credential) =
        credentials::insert(&mut tx, keys, tenant_id, &agent.id, valid.expiry, now).await?;
    audit::record(
        &mut tx,
        tenant_id,
        by,
        AuditAction::AgentRegistered,
        &audit_object(&agent.name, &agent.id),
        &format!(
            "{}; secret {}",
            agent.environment.as_str(),
            credential.label
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    db.recent.forget(tenant_id);
    Ok((agent, secret))
}

/// Agents of a tenant, newest first.
pub async fn list(db: &Db, tenant_id: &str) -> Result<Vec<Agent>> {
    let rows: Vec<AgentRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 ORDER BY created_at DESC, name"
    ))
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(Agent::from).collect())
}

/// [`list`], read at most once a second while nothing is written.
async fn list_recent(db: &Db, tenant_id: &str, now: i64) -> Result<std::sync::Arc<Vec<Agent>>> {
    db.recent
        .get_or_read(tenant_id, "agents".into(), now, || list(db, tenant_id))
        .await
}

/// Page `page` (from 1; past the end, the last) of the agents that match
/// `q` (any case) and `status`: the Agents page. Made at most once a second
/// per filter and page from the list read at most once a second, and shared
/// by the requests that want it (`RecentReads`), so the page's rows are not
/// copied per request and can be rendered once (`RenderMemo` by identity).
pub async fn page_recent(
    db: &Db,
    tenant_id: &str,
    q: &str,
    status: &str,
    page: usize,
    now: i64,
) -> Result<std::sync::Arc<AgentListPage>> {
    let q = q.trim().to_lowercase();
    // The status's length keeps the key unambiguous whatever the texts hold.
    let view = format!("agents:{page}:{}:{status}{q}", status.len());
    db.recent
        .get_or_read(tenant_id, view, now, || async {
            let all = list_recent(db, tenant_id, now).await?;
            Ok(page_of(&all, &q, status, page))
        })
        .await
}

fn page_of(all: &[Agent], q: &str, status: &str, page: usize) -> AgentListPage {
    let live = all
        .iter()
        .filter(|a| a.status != AgentStatus::Decommissioned)
        .count() as u64;
    let matching: Vec<&Agent> = all.iter().filter(|a| a.matches(q, status)).collect();
    let pages = matching.len().div_ceil(AGENTS_PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    AgentListPage {
        agents: matching
            .iter()
            .skip((page - 1) * AGENTS_PER_PAGE)
            .take(AGENTS_PER_PAGE)
            .map(|a| Agent::clone(a))
            .collect(),
        matching: matching.len(),
        total: all.len(),
        page,
        pages,
        live,
    }
}

/// One agent as its page shows it: read at most once a second, like the list
/// (`RecentReads`; the tenant's writes forget it). Changes to an agent read
/// it with [`get`].
pub async fn get_recent(
    db: &Db,
    tenant_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<std::sync::Arc<Agent>> {
    db.recent
        .get_or_read(tenant_id, format!("agent:{agent_id}"), now, || {
            get(db, tenant_id, agent_id)
        })
        .await
}

/// One agent of a tenant; another tenant's agent is "not found".
/// Agent ids are UUIDs we made: anything else names no agent, and is never
/// sent to the database (PostgreSQL refuses some strings, e.g. with NUL).
pub fn is_agent_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

pub async fn get(db: &Db, tenant_id: &str, agent_id: &str) -> Result<Agent> {
    if !is_agent_id(agent_id) {
        return Err(Error::NotFound(Thing::Agent));
    }
    let row: AgentRow = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(agent_id)
    .bind(tenant_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(Thing::Agent))?;
    Ok(row.into())
}

/// How the audit trail names an agent: its name then, and its client id.
fn audit_object(name: &str, id: &str) -> String {
    format!("{name} ({id})")
}

/// Sets `column` of a live agent of the tenant and records `action`;
/// `false` when there is no such live agent. Conditional: a decommissioned
/// agent is never changed again, however requests race (a reactivation
/// read "suspended" a moment ago).
#[allow(clippy::too_many_arguments)]
async fn update_live(
    db: &Db,
    tenant_id: &str,
    agent_id: &str,
    column: &'static str,
    value: &str,
    now: i64,
    by: &By,
    (action, detail): (AuditAction, &str),
) -> Result<bool> {
    if !is_agent_id(agent_id) {
        return Err(Error::NotFound(Thing::Agent));
    }
    let mut tx = db.pool.begin().await?;
    let names: Vec<String> = sqlx::query_scalar(&format!(
        "UPDATE agents SET {column} = $1, updated_at = $2 \
         WHERE id = $3 AND tenant_id = $4 AND status <> 'decommissioned' RETURNING name"
    ))
    .bind(value)
    .bind(now)
    .bind(agent_id)
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    let Some(name) = names.first() else {
        return Ok(false);
    };
    audit::record(
        &mut tx,
        tenant_id,
        by,
        action,
        &audit_object(name, agent_id),
        detail,
        now,
    )
    .await?;
    tx.commit().await?;
    db.recent.forget(tenant_id);
    Ok(true)
}

/// Replaces the resources (RFC 8707) the agent may ask tokens for: `raw`
/// as a form gives it (absolute URIs separated by spaces, commas or new
/// lines; empty: none). Applies to the next token request.
pub async fn set_resources(
    db: &Db,
    clients: &ClientCache,
    tenant_id: &str,
    agent_id: &str,
    raw: &str,
    now: i64,
    by: &By,
) -> Result<Agent> {
    let resources = parse_resources(raw)
        .map_err(|e| Error::invalid_field("resources", e))?
        .join(" ");
    let detail = match resources.as_str() {
        "" => "none: the default audience only",
        listed => listed,
    };
    let changed = update_live(
        db,
        tenant_id,
        agent_id,
        "resources",
        &resources,
        now,
        by,
        (AuditAction::AgentResourcesChanged, detail),
    )
    .await?;
    if !changed {
        get(db, tenant_id, agent_id).await?;
        return Err(Error::Conflict(
            "A decommissioned agent cannot be changed.".into(),
        ));
    }
    clients.forget(agent_id);
    get(db, tenant_id, agent_id).await
}

/// Suspend, reactivate or decommission. Decommissioning is final.
pub async fn set_status(
    db: &Db,
    clients: &ClientCache,
    tenant_id: &str,
    agent_id: &str,
    status: AgentStatus,
    now: i64,
    by: &By,
) -> Result<Agent> {
    let action = match status {
        AgentStatus::Active => AuditAction::AgentReactivated,
        AgentStatus::Suspended => AuditAction::AgentSuspended,
        AgentStatus::Decommissioned => AuditAction::AgentDecommissioned,
    };
    let changed = update_live(
        db,
        tenant_id,
        agent_id,
        "status",
        status.as_str(),
        now,
        by,
        (action, ""),
    )
    .await?;
    if !changed {
        let agent = get(db, tenant_id, agent_id).await?;
        if status == AgentStatus::Decommissioned {
            return Ok(agent);
        }
        return Err(Error::Conflict(
            "A decommissioned agent cannot be brought back.".into(),
        ));
    }
    clients.forget(agent_id);
    get(db, tenant_id, agent_id).await
}
