//! Guessing at the token endpoints is throttled. A failed client
//! authentication is counted before it is answered, in the sign-in
//! throttle's atomic counters (one row per key, shared by every instance),
//! so however many guesses race, at most a limit of them is ever answered
//! "wrong". Past it, every request of that kind is refused with 429 until
//! the window ends, a correct secret too: a 200 among the 429s would still
//! tell a guesser when it was right. Three counters, as at sign-in:
//!
//! - one client id from one address: [`PER_CLIENT_AND_ADDRESS`];
//! - one client id, any addresses: [`PER_CLIENT`], much higher, so that
//!   strangers need many addresses to lock an agent out;
//! - one address, any client ids: [`PER_ADDRESS`] (a guesser trying many).
//!
//! A successful request writes nothing: the blocks in force are kept in
//! memory ([`AuthBlocks`]), this instance's at once and the other
//! instances' within [`BLOCKS_REFRESH`].
//!
//! A secret the agent had before (rotated out, retired, expired) is no
//! guess: its failures are counted apart and throttle only that secret, so
//! a copy left on an old secret never locks out the copies beside it that
//! switched. Counted failures are kept a week for the agent's page.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use super::clients::Client;
use super::secrets::secret_matches;
use crate::domain::keys::ServerKeys;
use crate::domain::sign_in::{reserve, WINDOW_SECS};
use crate::domain::{Db, Error, Result};
use crate::model::{AgentStatus, AuthFailure, AuthFailureReason, AuthFailures};

pub const PER_CLIENT_AND_ADDRESS: i64 = 10;
pub const PER_CLIENT: i64 = 100;
pub const PER_ADDRESS: i64 = 30;
/// Failures with one former secret from one address.
pub const FORMER_PER_CLIENT_AND_ADDRESS: i64 = 10;

/// How often an instance reads the blocks other instances started.
pub const BLOCKS_REFRESH: Duration = Duration::from_secs(1);
/// How long failures stay on the agent's page.
const KEPT_SECS: i64 = 7 * 86_400;
/// Blocks held in memory at most (beyond it, failures are still refused by
/// their counters; only a correct secret would pass).
const MAX_BLOCKS: usize = 100_000;

/// The counters' keys, by kind; the kind names its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ClientAndAddress,
    Client,
    Address,
    Former,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::ClientAndAddress,
        Kind::Client,
        Kind::Address,
        Kind::Former,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Kind::ClientAndAddress => "client-auth:",
            Kind::Client => "client-auth-client:",
            Kind::Address => "client-auth-from:",
            Kind::Former => "client-auth-former:",
        }
    }

    fn limit(self) -> i64 {
        match self {
            Kind::ClientAndAddress => PER_CLIENT_AND_ADDRESS,
            Kind::Client => PER_CLIENT,
            Kind::Address => PER_ADDRESS,
            Kind::Former => FORMER_PER_CLIENT_AND_ADDRESS,
        }
    }

    fn key(self, client_id: &str, address: &str) -> String {
        let prefix = self.prefix();
        match self {
            Kind::ClientAndAddress | Kind::Former => format!("{prefix}{client_id} {address}"),
            Kind::Client => format!("{prefix}{client_id}"),
            Kind::Address => format!("{prefix}{address}"),
        }
    }

    fn of_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| key.starts_with(k.prefix()))
    }
}

/// The blocks in force: counter key → when it ends.
#[derive(Debug, Default)]
pub struct AuthBlocks {
    until: RwLock<HashMap<String, i64>>,
    /// Whether there is any: all a successful request usually pays.
    any: AtomicBool,
}

impl AuthBlocks {
    /// Seconds until the last of `keys`' blocks ends, if one is in force.
    fn retry_after(&self, keys: &[String], now: i64) -> Option<i64> {
        let until = self.until.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter_map(|k| until.get(k))
            .filter(|&&at| at > now)
            .max()
            .map(|at| at - now)
    }

    fn block(&self, key: String, until: i64) {
        let mut blocks = self.until.write().unwrap_or_else(|e| e.into_inner());
        if blocks.len() < MAX_BLOCKS {
            blocks.insert(key, until);
        }
        self.any.store(true, Ordering::Release);
    }

    /// Refuses a client that authenticated correctly while one of its
    /// counters is full.
    pub fn check(&self, client_id: &str, address: &str, now: i64) -> Result<()> {
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let keys = [Kind::ClientAndAddress, Kind::Client, Kind::Address]
            .map(|kind| kind.key(client_id, address));
        match self.retry_after(&keys, now) {
            Some(retry_after_secs) => Err(Error::ClientAuthThrottled { retry_after_secs }),
            None => Ok(()),
        }
    }

    /// Takes the blocks every instance started (read from the counters),
    /// and forgets those that ended.
    pub async fn refresh(&self, db: &Db, now: i64) -> Result<()> {
        let full: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT key, window_start, attempts FROM sign_in_counters \
             WHERE key LIKE 'client-auth%' AND window_start > $1 AND attempts > $2",
        )
        .bind(now - WINDOW_SECS)
        .bind(
            PER_CLIENT_AND_ADDRESS
                .min(PER_ADDRESS)
                .min(FORMER_PER_CLIENT_AND_ADDRESS),
        )
        .fetch_all(&db.pool)
        .await?;
        let mut blocks = self.until.write().unwrap_or_else(|e| e.into_inner());
        blocks.retain(|_, until| *until > now);
        for (key, window_start, attempts) in full {
            let full = Kind::of_key(&key).is_some_and(|kind| attempts > kind.limit());
            if full && blocks.len() < MAX_BLOCKS {
                blocks.insert(key, window_start + WINDOW_SECS);
            }
        }
        self.any.store(!blocks.is_empty(), Ordering::Release);
        Ok(())
    }
}

/// What a failed authentication is answered with, once it is counted:
/// `InvalidClient`, `FormerSecret`, `ClientAuthThrottled` (or a database
/// error). `client` is the agent the client id names, if any.
pub(crate) async fn refuse(
    db: &Db,
    blocks: &AuthBlocks,
    keys: &ServerKeys,
    attempt: Attempt<'_>,
    client: Option<&Client>,
    now: i64,
) -> Error {
    match counted(db, blocks, keys, attempt, client, now).await {
        Ok(e) | Err(e) => e,
    }
}

/// A failed client authentication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub client_id: &'a str,
    pub secret: &'a str,
    pub address: &'a str,
}

async fn counted(
    db: &Db,
    blocks: &AuthBlocks,
    keys: &ServerKeys,
    attempt: Attempt<'_>,
    client: Option<&Client>,
    now: i64,
) -> Result<Error> {
    let Attempt {
        client_id,
        secret,
        address,
    } = attempt;
    let Some(client) = client else {
        // An unknown client id is counted against its address alone: the
        // counters keep no key a stranger made up.
        return guess(db, blocks, &[Kind::Address], attempt, None, now).await;
    };
    // The right secret of an agent that may not get tokens: no guess.
    let right = client
        .secrets
        .iter()
        .any(|s| s.works_at(now) && secret_matches(keys, secret, &s.secret_hash));
    if right && client.agent.status != AgentStatus::Active {
        return Ok(Error::InvalidClient);
    }
    if let Some(label) = former_secret(db, keys, &client.agent.id, secret, now).await? {
        let key = Kind::Former.key(client_id, address);
        if let Some(retry_after_secs) = blocks.retry_after(std::slice::from_ref(&key), now) {
            return Ok(Error::ClientAuthThrottled { retry_after_secs });
        }
        let (attempts, window_start) = reserve(db, &key, WINDOW_SECS, now).await?;
        let reason = if attempts > Kind::Former.limit() {
            blocks.block(key, window_start + WINDOW_SECS);
            AuthFailureReason::Throttled
        } else {
            AuthFailureReason::FormerSecret
        };
        if attempts <= Kind::Former.limit() + 1 {
            record(db, client, address, reason, Some(&label), now).await?;
        }
        return Ok(match reason {
            AuthFailureReason::Throttled => Error::ClientAuthThrottled {
                retry_after_secs: (window_start + WINDOW_SECS - now).max(1),
            },
            _ => Error::FormerSecret { label },
        });
    }
    let kinds = [Kind::ClientAndAddress, Kind::Client, Kind::Address];
    guess(db, blocks, &kinds, attempt, Some(client), now).await
}

/// Counts a wrong secret under each of `kinds` in turn, stopping at the
/// first that is full (a client already refused eats into no wider budget).
async fn guess(
    db: &Db,
    blocks: &AuthBlocks,
    kinds: &[Kind],
    attempt: Attempt<'_>,
    client: Option<&Client>,
    now: i64,
) -> Result<Error> {
    let keys: Vec<String> = kinds
        .iter()
        .map(|kind| kind.key(attempt.client_id, attempt.address))
        .collect();
    // Already refused here: no write for it.
    if let Some(retry_after_secs) = blocks.retry_after(&keys, now) {
        return Ok(Error::ClientAuthThrottled { retry_after_secs });
    }
    for (kind, key) in kinds.iter().zip(keys) {
        let (attempts, window_start) = reserve(db, &key, WINDOW_SECS, now).await?;
        if attempts > kind.limit() {
            let until = window_start + WINDOW_SECS;
            blocks.block(key, until);
            // The moment it began, once.
            if let (Some(client), true) = (client, attempts == kind.limit() + 1) {
                let reason = AuthFailureReason::Throttled;
                record(db, client, attempt.address, reason, None, now).await?;
            }
            return Ok(Error::ClientAuthThrottled {
                retry_after_secs: (until - now).max(1),
            });
        }
    }
    if let Some(client) = client {
        let reason = AuthFailureReason::WrongSecret;
        record(db, client, attempt.address, reason, None, now).await?;
    }
    Ok(Error::InvalidClient)
}

/// The label of the agent's former secret `secret` is, if it is one.
async fn former_secret(
    db: &Db,
    keys: &ServerKeys,
    agent_id: &str,
    secret: &str,
    now: i64,
) -> Result<Option<String>> {
    let former: Vec<(String, String)> = sqlx::query_as(
        "SELECT label, secret_hash FROM agent_credentials WHERE agent_id = $1 \
         AND (retired_at IS NOT NULL OR expires_at <= $2) ORDER BY created_at DESC LIMIT 100",
    )
    .bind(agent_id)
    .bind(now)
    .fetch_all(&db.pool)
    .await?;
    Ok(former
        .into_iter()
        .find(|(_, hash)| secret_matches(keys, secret, hash))
        .map(|(label, _)| label))
}

async fn record(
    db: &Db,
    client: &Client,
    address: &str,
    reason: AuthFailureReason,
    credential_label: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO agent_auth_failures \
         (id, agent_id, tenant_id, at, client_ip, reason, credential_label) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&client.agent.id)
    .bind(&client.agent.tenant_id)
    .bind(now)
    .bind(address)
    .bind(reason.as_str())
    .bind(credential_label)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The agent's failed authentications of the last week, as its page shows
/// them.
pub async fn recent(db: &Db, tenant_id: &str, agent_id: &str, now: i64) -> Result<AuthFailures> {
    let last_day: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM agent_auth_failures \
         WHERE tenant_id = $1 AND agent_id = $2 AND at > $3 AND reason <> 'throttled'",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(now - 86_400)
    .fetch_one(&db.pool)
    .await?;
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT at, client_ip, reason, credential_label FROM agent_auth_failures \
         WHERE tenant_id = $1 AND agent_id = $2 AND at > $3 ORDER BY at DESC, id LIMIT $4",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(now - KEPT_SECS)
    .bind(AuthFailures::SHOWN as i64)
    .fetch_all(&db.pool)
    .await?;
    let latest = rows
        .into_iter()
        .filter_map(|(at, client_ip, reason, credential_label)| {
            let reason = AuthFailureReason::parse(&reason)?;
            Some(AuthFailure {
                at,
                client_ip,
                reason,
                credential_label,
                until: (reason == AuthFailureReason::Throttled).then_some(at + WINDOW_SECS),
            })
        })
        .collect();
    Ok(AuthFailures {
        last_day: u64::try_from(last_day).unwrap_or_default(),
        latest,
    })
}

/// Forgets failures older than the page shows.
pub async fn prune(db: &Db, now: i64) -> Result<u64> {
    let done = sqlx::query("DELETE FROM agent_auth_failures WHERE at <= $1")
        .bind(now - KEPT_SECS)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_names_its_own_limit() {
        for kind in Kind::ALL {
            assert_eq!(Kind::of_key(&kind.key("agt_1", "203.0.113.9")), Some(kind));
        }
        assert_eq!(Kind::of_key("signup:203.0.113.9"), None);
    }

    #[test]
    fn a_block_refuses_only_its_own_keys_and_only_until_it_ends() {
        let blocks = AuthBlocks::default();
        assert!(blocks.check("agt_1", "203.0.113.9", 100).is_ok());
        blocks.block(Kind::ClientAndAddress.key("agt_1", "203.0.113.9"), 200);
        assert!(matches!(
            blocks.check("agt_1", "203.0.113.9", 100),
            Err(Error::ClientAuthThrottled {
                retry_after_secs: 100
            })
        ));
        assert!(blocks.check("agt_1", "198.51.100.7", 100).is_ok());
        assert!(blocks.check("agt_2", "203.0.113.9", 100).is_ok());
        assert!(blocks.check("agt_1", "203.0.113.9", 200).is_ok());
        // A former secret's block is not the agent's.
        blocks.block(Kind::Former.key("agt_3", "203.0.113.9"), 200);
        assert!(blocks.check("agt_3", "203.0.113.9", 100).is_ok());
    }
}
