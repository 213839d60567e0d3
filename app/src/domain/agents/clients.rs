//! The agents' side of the token endpoint: who a client id is, cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sqlx::FromRow;

use super::{AgentRow, COLUMNS};
use crate::domain::{Db, Result};
use crate::model::Agent;

/// A secret that was live when read: [`Secret::works_at`] decides at the
/// moment of each request (an overlap window ends at its second, cached or
/// not).
#[derive(Debug, Clone, FromRow)]
pub struct Secret {
    pub id: String,
    pub label: String,
    pub secret_hash: String,
    pub expires_at: Option<i64>,
}

impl Secret {
    pub fn works_at(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// An agent and its secrets not retired nor expired when read, newest
/// first.
#[derive(Debug, Clone)]
pub struct Client {
    pub agent: Agent,
    pub secrets: Vec<Secret>,
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
    entries: RwLock<HashMap<String, (Instant, Arc<Client>)>>,
    generation: AtomicU64,
    /// The minute each secret's `last_used_at` was last written by this
    /// instance: once a minute is its precision.
    touched: Mutex<HashMap<String, i64>>,
}

pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);
const CLIENT_CACHE_MAX: usize = 100_000;

impl ClientCache {
    fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(client_id)
            .filter(|(at, _)| at.elapsed() < CLIENT_CACHE_TTL)
            .map(|(_, client)| client.clone())
    }

    /// Caches what a read that began at `generation` found, unless an
    /// entry was forgotten since.
    fn put(&self, client: &Arc<Client>, generation: u64) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock `forget` takes: no forget can slip between.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= CLIENT_CACHE_MAX {
            entries.clear();
        }
        entries.insert(client.agent.id.clone(), (Instant::now(), client.clone()));
    }

    /// Whether this use of `secret_id` at `now` is the first of its minute
    /// here (then the caller writes it).
    pub fn first_use_this_minute(&self, secret_id: &str, now: i64) -> bool {
        let minute = now.div_euclid(60);
        let mut touched = self.touched.lock().unwrap_or_else(|e| e.into_inner());
        if touched.get(secret_id) == Some(&minute) {
            return false;
        }
        if touched.len() >= CLIENT_CACHE_MAX {
            touched.clear();
        }
        touched.insert(secret_id.to_owned(), minute);
        true
    }

    pub fn forget(&self, client_id: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::SeqCst);
        entries.remove(client_id);
    }
}

/// The agent and its live secrets, for client authentication.
pub async fn for_client(
    db: &Db,
    clients: &ClientCache,
    client_id: &str,
    now: i64,
) -> Result<Option<Arc<Client>>> {
    if !super::is_agent_id(client_id) {
        return Ok(None);
    }
    if let Some(hit) = clients.get(client_id) {
        return Ok(Some(hit));
    }
    let generation = clients.generation.load(Ordering::SeqCst);
    let row: Option<AgentRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM agents WHERE id = $1"))
            .bind(client_id)
            .fetch_optional(&db.pool)
            .await?;
    let Some(agent) = row else {
        return Ok(None);
    };
    let secrets: Vec<Secret> = sqlx::query_as(
        "SELECT id, label, secret_hash, expires_at FROM agent_credentials WHERE agent_id = $1 \
         AND retired_at IS NULL AND (expires_at IS NULL OR expires_at > $2) \
         ORDER BY created_at DESC, id",
    )
    .bind(client_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    let client = Arc::new(Client {
        agent: Agent::from(agent),
        secrets,
    });
    clients.put(&client, generation);
    Ok(Some(client))
}
