//! The agents' side of the token endpoint: who a client id is, cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use sqlx::FromRow;

use super::{AgentRow, COLUMNS};
use crate::domain::{Db, Result};
use crate::model::Agent;

/// An agent with its secret hash, for client authentication.
#[derive(FromRow)]
struct ClientRow {
    #[sqlx(flatten)]
    agent: AgentRow,
    secret_hash: String,
}

/// Recently authenticated clients, so that the token endpoint does not query
/// the database for every token. Changes made through this process (status,
/// rotation) drop the entry at once; changes made by another instance or the
/// CLI are seen within `CLIENT_CACHE_TTL`.
///
/// A read that started before a change must not put the old row back after
/// `forget`: every `forget` moves `generation` on, and a read only caches
/// what it found when no `forget` happened while it ran.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, (Instant, Agent, String)>>,
    generation: AtomicU64,
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

    /// Caches what a read that began at `generation` found, unless an
    /// entry was forgotten since.
    fn put(&self, agent: &Agent, hash: &str, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock `forget` takes: no forget can slip between.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= CLIENT_CACHE_MAX {
            entries.clear();
        }
        entries.insert(
            agent.id.clone(),
            (Instant::now(), agent.clone(), hash.to_owned()),
        );
    }

    pub fn forget(&self, client_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(client_id);
    }
}

/// The agent and its secret hash, for client authentication.
pub async fn for_client(
    db: &Db,
    clients: &ClientCache,
    client_id: &str,
) -> Result<Option<(Agent, String)>> {
    if !super::is_agent_id(client_id) {
        return Ok(None);
    }
    if let Some(hit) = clients.get(client_id) {
        return Ok(Some(hit));
    }
    let generation = clients.generation.load(Ordering::SeqCst);
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
    clients.put(&agent, &secret_hash, generation);
    Ok(Some((agent, secret_hash)))
}
