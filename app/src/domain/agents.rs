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
use sqlx::FromRow;

use super::db::Backend;
use super::error::Thing;
use super::keys::ServerKeys;
use super::{Db, Error, Result};
use crate::model::tiers::TierLimits;
use crate::model::{Agent, AgentStatus, Environment, FieldErrors, Tier};

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
    let mut problems = FieldErrors::default();
    let mut text = |value: String, field: &str, label: &str, max: usize| {
        let value = value.trim().to_owned();
        if value.is_empty() {
            problems.push(field, format!("{label} is required."));
        } else if value.chars().count() > max {
            problems.push(field, format!("{label} must be at most {max} characters."));
        }
        value
    };
    let name = text(new.name, "name", "Name", 100);
    let agent_type = text(new.agent_type, "agent_type", "Agent type", 50);
    let version = text(new.version, "version", "Version", 30);
    let owner = text(new.owner, "owner", "Owner", 100);
    let environment = new.environment.parse::<Environment>().unwrap_or_else(|e| {
        problems.push("environment", format!("Environment: {e}."));
        Environment::Development
    });
    let capabilities = match parse_capabilities(&new.capabilities) {
        Ok(c) => c,
        Err(message) => {
            problems.push("capabilities", message);
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
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

/// `resource:action` pairs separated by spaces, commas or new lines;
/// duplicates dropped, case folded.
fn parse_capabilities(raw: &[String]) -> std::result::Result<Vec<String>, String> {
    let mut capabilities: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for cap in raw.iter().flat_map(|c| c.split([' ', ',', '\n'])) {
        let cap = cap.trim().to_lowercase();
        if cap.is_empty() || capabilities.contains(&cap) {
            continue;
        }
        if !is_capability(&cap) {
            bad.push(format!("{cap:?}"));
        }
        capabilities.push(cap);
    }
    if !bad.is_empty() {
        Err(format!(
            "{} not of the form resource:action (lower-case letters, digits, _ - .).",
            if bad.len() == 1 {
                format!("Capability {} is", bad[0])
            } else {
                format!("Capabilities {} are", bad.join(", "))
            }
        ))
    } else if capabilities.is_empty() {
        Err("At least one capability (resource:action) is required.".into())
    } else if capabilities.len() > 50 {
        Err("At most 50 capabilities.".into())
    } else {
        Ok(capabilities)
    }
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

/// An `agents` row as stored: capabilities space-separated.
#[derive(FromRow)]
struct AgentRow {
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
        }
    }
}

/// An agent with its secret hash, for client authentication.
#[derive(FromRow)]
struct ClientRow {
    #[sqlx(flatten)]
    agent: AgentRow,
    secret_hash: String,
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
    let rows: Vec<AgentRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM agents WHERE tenant_id = $1 ORDER BY created_at DESC, name"
    ))
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(Agent::from).collect())
}

/// One agent of a tenant; another tenant's agent is "not found".
pub async fn get(db: &Db, tenant_id: &str, agent_id: &str) -> Result<Agent> {
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
pub async fn for_client(
    db: &Db,
    clients: &ClientCache,
    client_id: &str,
) -> Result<Option<(Agent, String)>> {
    if let Some(hit) = clients.get(client_id) {
        return Ok(Some(hit));
    }
    let row: Option<ClientRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, secret_hash FROM agents WHERE id = $1"
    ))
    .bind(client_id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(ClientRow { agent, secret_hash }) = row else {
        return Ok(None);
    };
    let agent = Agent::from(agent);
    clients.put(&agent, &secret_hash);
    Ok(Some((agent, secret_hash)))
}

/// Suspend, reactivate or decommission. Decommissioning is final.
pub async fn set_status(
    db: &Db,
    clients: &ClientCache,
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
    clients.forget(agent_id);
    get(db, tenant_id, agent_id).await
}

/// A new secret; the old one stops working at once.
pub async fn rotate_secret(
    db: &Db,
    keys: &ServerKeys,
    clients: &ClientCache,
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
    clients.forget(agent_id);
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
