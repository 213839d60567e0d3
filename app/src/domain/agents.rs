//! Agents: the OAuth clients of a tenant. Client secrets are 256 random bits,
//! shown once and stored as HMAC-SHA256 under the server's secret-hash key: a
//! fast keyed hash is enough for random secrets and keeps the token endpoint fast.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use sqlx::Row;

use super::db::Backend;
use super::error::Thing;
use super::keys::ServerKeys;
use super::{Db, Error, Result};
use crate::model::{Agent, AgentStatus, Environment, Tier};
use crate::tiers::TierLimits;

/// Shown to the user once, at creation and at rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecret(pub String);

#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    pub name: String,
    pub agent_type: String,
    pub version: String,
    /// `resource:action` strings
    pub capabilities: Vec<String>,
    pub owner: String,
    pub environment: String,
}

/// A validated `NewAgent`, or every problem found, field by field.
#[derive(Debug, Clone)]
struct ValidAgent {
    name: String,
    agent_type: String,
    version: String,
    capabilities: Vec<String>,
    owner: String,
    environment: Environment,
}

pub fn is_capability(s: &str) -> bool {
    let ok = |part: &str, star: bool| {
        !part.is_empty()
            && part.len() <= 64
            && part.chars().all(|c| {
                c.is_ascii_lowercase()
                    || c.is_ascii_digit()
                    || "_-.".contains(c)
                    || (star && c == '*')
            })
    };
    matches!(s.split_once(':'), Some((resource, action)) if ok(resource, false) && ok(action, true))
}

fn validate(new: NewAgent) -> Result<ValidAgent> {
    let mut problems = Vec::new();
    let text = |value: String, label: &str, max: usize, problems: &mut Vec<String>| {
        let value = value.trim().to_owned();
        if value.is_empty() {
            problems.push(format!("{label} is required."));
        } else if value.chars().count() > max {
            problems.push(format!("{label} must be at most {max} characters."));
        }
        value
    };
    let name = text(new.name, "Name", 100, &mut problems);
    let agent_type = text(new.agent_type, "Agent type", 50, &mut problems);
    let version = text(new.version, "Version", 30, &mut problems);
    let owner = text(new.owner, "Owner", 100, &mut problems);
    let environment = new.environment.parse::<Environment>().unwrap_or_else(|e| {
        problems.push(format!("Environment: {e}."));
        Environment::Development
    });
    let mut capabilities: Vec<String> = Vec::new();
    for cap in new
        .capabilities
        .iter()
        .flat_map(|c| c.split([' ', ',', '\n']))
    {
        let cap = cap.trim().to_lowercase();
        if cap.is_empty() || capabilities.contains(&cap) {
            continue;
        }
        if !is_capability(&cap) {
            problems.push(format!(
                "Capability {cap:?} is not of the form resource:action (lower-case letters, digits, _ - .)."
            ));
        }
        capabilities.push(cap);
    }
    if capabilities.is_empty() {
        problems.push("At least one capability (resource:action) is required.".into());
    }
    if capabilities.len() > 50 {
        problems.push("At most 50 capabilities.".into());
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join(" ")));
    }
    Ok(ValidAgent {
        name,
        agent_type,
        version,
        capabilities,
        owner,
        environment,
    })
}

pub fn hash_secret(keys: &ServerKeys, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.secret_hash_key).expect("any key length");
    mac.update(secret.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Constant-time comparison of a presented secret with the stored hash.
pub fn secret_matches(keys: &ServerKeys, secret: &str, stored_hash: &str) -> bool {
    let Ok(stored) = B64.decode(stored_hash) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&keys.secret_hash_key).expect("any key length");
    mac.update(secret.as_bytes());
    mac.verify_slice(&stored).is_ok()
}

fn new_secret() -> ClientSecret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    ClientSecret(format!("ais_{}", B64.encode(bytes)))
}

const COLUMNS: &str =
    "id, tenant_id, name, agent_type, version, capabilities, owner, environment, \
                       status, created_at, updated_at, last_token_at";

pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Agent> {
    let capabilities: String = row.try_get("capabilities")?;
    Ok(Agent {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        agent_type: row.try_get("agent_type")?,
        version: row.try_get("version")?,
        capabilities: capabilities.split_whitespace().map(str::to_owned).collect(),
        owner: row.try_get("owner")?,
        environment: row
            .try_get::<String, _>("environment")?
            .parse()
            .map_err(Error::Internal)?,
        status: row
            .try_get::<String, _>("status")?
            .parse()
            .map_err(Error::Internal)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_token_at: row.try_get("last_token_at")?,
    })
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
) -> Result<(Agent, ClientSecret)> {
    let valid = validate(new)?;
    let secret = new_secret();
    let mut tx = db.pool.begin().await?;
    // Take the tenant's row lock first so that concurrent creations count one
    // after the other (SQLite: the write lock; PostgreSQL: the row lock).
    let lock = match db.backend {
        Backend::Sqlite => "UPDATE tenants SET tier = tier WHERE id = $1 RETURNING tier",
        Backend::Postgres => "SELECT tier FROM tenants WHERE id = $1 FOR UPDATE",
    };
    let tier: Tier = sqlx::query(lock)
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(Error::NotFound(Thing::Tenant))?
        .try_get::<String, _>("tier")?
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
    };
    sqlx::query(&format!(
        "INSERT INTO agents ({COLUMNS}, secret_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
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
    .bind(hash_secret(keys, &secret.0))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((agent, secret))
}

/// Agents of a tenant, newest first.
pub async fn list(db: &Db, tenant_id: &str) -> Result<Vec<Agent>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 ORDER BY created_at DESC, name"
    ))
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// One agent of a tenant; another tenant's agent is "not found".
pub async fn get(db: &Db, tenant_id: &str, agent_id: &str) -> Result<Agent> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM agents WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(agent_id)
    .bind(tenant_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(Thing::Agent))?;
    from_row(&row)
}

/// Recently authenticated clients, so that the token endpoint does not query
/// the database for every token. Changes made through this process (status,
/// rotation) drop the entry at once; changes made by another instance or the
/// CLI are seen within `CLIENT_CACHE_TTL`.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, (Instant, Agent, String)>>,
}

pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);
const CLIENT_CACHE_MAX: usize = 100_000;

impl ClientCache {
    fn get(&self, client_id: &str) -> Option<(Agent, String)> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(client_id)
            .filter(|(at, _, _)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(_, agent, hash)| (agent.clone(), hash.clone()))
    }

    fn put(&self, agent: &Agent, hash: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CLIENT_CACHE_MAX {
            entries.clear();
        }
        entries.insert(
            agent.id.clone(),
            (Instant::now(), agent.clone(), hash.to_owned()),
        );
    }

    pub fn forget(&self, client_id: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(client_id);
    }
}

/// The agent and its secret hash, for client authentication.
pub async fn for_client(db: &Db, client_id: &str) -> Result<Option<(Agent, String)>> {
    if let Some(hit) = db.clients.get(client_id) {
        return Ok(Some(hit));
    }
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS}, secret_hash FROM agents WHERE id = $1"
    ))
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (agent, hash): (Agent, String) = (from_row(&row)?, row.try_get("secret_hash")?);
    db.clients.put(&agent, &hash);
    Ok(Some((agent, hash)))
}

/// Suspend, reactivate or decommission. Decommissioning is final.
pub async fn set_status(
    db: &Db,
    tenant_id: &str,
    agent_id: &str,
    status: AgentStatus,
    now: i64,
) -> Result<Agent> {
    let agent = get(db, tenant_id, agent_id).await?;
    if agent.status == AgentStatus::Decommissioned && status != AgentStatus::Decommissioned {
        return Err(Error::Conflict(
            "A decommissioned agent cannot be brought back.".into(),
        ));
    }
    if agent.status == AgentStatus::Decommissioned {
        return Ok(agent);
    }
    sqlx::query("UPDATE agents SET status = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(status.as_str())
        .bind(now)
        .bind(agent_id)
        .bind(tenant_id)
        .execute(&db.pool)
        .await?;
    db.clients.forget(agent_id);
    get(db, tenant_id, agent_id).await
}

/// A new secret; the old one stops working at once.
pub async fn rotate_secret(
    db: &Db,
    keys: &ServerKeys,
    tenant_id: &str,
    agent_id: &str,
    now: i64,
) -> Result<ClientSecret> {
    let agent = get(db, tenant_id, agent_id).await?;
    if agent.status == AgentStatus::Decommissioned {
        return Err(Error::Conflict(
            "A decommissioned agent has no secret to rotate.".into(),
        ));
    }
    let secret = new_secret();
    sqlx::query(
        "UPDATE agents SET secret_hash = $1, updated_at = $2 WHERE id = $3 AND tenant_id = $4",
    )
    .bind(hash_secret(keys, &secret.0))
    .bind(now)
    .bind(agent_id)
    .bind(tenant_id)
    .execute(&db.pool)
    .await?;
    db.clients.forget(agent_id);
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_resource_action_pairs() {
        for ok in ["tokens:read", "agents:write", "files.v2:read", "billing:*"] {
            assert!(is_capability(ok), "{ok}");
        }
        for bad in [
            "tokens",
            ":read",
            "tokens:",
            "Tokens:Read",
            "a:b:c",
            "*:read",
            "tok ens:read",
        ] {
            assert!(!is_capability(bad), "{bad}");
        }
    }

    #[test]
    fn validation_reports_every_problem() {
        let err = validate(NewAgent {
            environment: "prod".into(),
            capabilities: vec!["nope".into()],
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        for expected in [
            "Name is required",
            "Agent type is required",
            "Version is required",
            "Owner is required",
            "Environment",
            "nope",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }
}
