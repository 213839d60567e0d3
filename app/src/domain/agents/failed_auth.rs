//! Guessing at the token endpoints is throttled. A failed client
//! authentication is counted before it is answered, in the sign-in
//! throttle's atomic counters (one row per key, shared by every instance),
//! so however many guesses race, at most a limit of them is ever answered
//! "wrong". Three counters, as at sign-in:
//!
//! - one client id from one address ([`PER_CLIENT_AND_ADDRESS`]): past it,
//!   that pair is refused everything, the right secret too, until the
//!   window ends (a 200 among the 429s would tell a guesser when it was
//!   right);
//! - one client id from any addresses ([`PER_CLIENT`]) and one address for
//!   any client ids ([`PER_ADDRESS`]): past them, every failure is refused,
//!   and the right secret only from an address that failed for that client
//!   in the window. So strangers cannot lock an agent out, from elsewhere or
//!   from the NAT its copies share, and a guesser still gets no answer.
//!
//! IPv6 addresses count by their /64: one host holds a whole one.
//!
//! A successful request writes nothing: the blocks in force are kept in
//! memory ([`AuthBlocks`]), this instance's at once and, on PostgreSQL, the
//! other instances' within [`BLOCKS_REFRESH`]; it reads the database only
//! when a wide block concerns it. A secret the agent had before (rotated out,
//! retired, expired) is no guess: its failures are counted apart and
//! throttle only that secret, so a copy left on it never locks out the
//! copies beside it that switched. The agent's page shows the failures
//! (the first of each kind per address and window) and every block.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use super::clients::Client;
use super::secrets::secret_matches;
use crate::domain::keys::ServerKeys;
use crate::domain::sign_in::{reserve, WINDOW_SECS};
use crate::domain::{Db, Error, Result};
use crate::model::{AuthFailure, AuthFailureReason, AuthFailures, ThrottleScope};

pub const PER_CLIENT_AND_ADDRESS: i64 = 10;
pub const PER_CLIENT: i64 = 100;
pub const PER_ADDRESS: i64 = 30;
/// Failures with one agent's former secrets from one address, and from any.
pub const FORMER_PER_CLIENT_AND_ADDRESS: i64 = 10;
pub const FORMER_PER_CLIENT: i64 = 100;

/// How often an instance reads the blocks other instances started.
pub const BLOCKS_REFRESH: Duration = Duration::from_secs(1);
/// How long failures stay on the agent's page.
const KEPT_SECS: i64 = 7 * 86_400;
/// Blocks held in memory at most; past it, requests read their counters.
const MAX_BLOCKS: usize = 100_000;

/// The counters' keys, by what they count; each kind has its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pair,
    Client,
    Address,
    FormerPair,
    FormerClient,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Pair,
        Kind::Client,
        Kind::Address,
        Kind::FormerPair,
        Kind::FormerClient,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Kind::Pair => "client-auth:",
            Kind::Client => "client-auth-client:",
            Kind::Address => "client-auth-from:",
            Kind::FormerPair => "client-auth-former:",
            Kind::FormerClient => "client-auth-former-client:",
        }
    }

    fn limit(self) -> i64 {
        match self {
            Kind::Pair => PER_CLIENT_AND_ADDRESS,
            Kind::Client => PER_CLIENT,
            Kind::Address => PER_ADDRESS,
            Kind::FormerPair => FORMER_PER_CLIENT_AND_ADDRESS,
            Kind::FormerClient => FORMER_PER_CLIENT,
        }
    }

    fn scope(self) -> ThrottleScope {
        match self {
            Kind::Pair => ThrottleScope::ThisAddress,
            Kind::Client => ThrottleScope::AnyAddress,
            Kind::Address => ThrottleScope::EveryAgent,
            Kind::FormerPair | Kind::FormerClient => ThrottleScope::FormerSecret,
        }
    }

    /// `address` as [`counted_address`] gives it.
    fn key(self, client_id: &str, address: &str) -> String {
        let prefix = self.prefix();
        match self {
            Kind::Pair | Kind::FormerPair => format!("{prefix}{client_id} {address}"),
            Kind::Client | Kind::FormerClient => format!("{prefix}{client_id}"),
            Kind::Address => format!("{prefix}{address}"),
        }
    }

    /// Every prefix ends with its `:`, so no one is another's start.
    fn of_key(key: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| key.starts_with(k.prefix()))
    }
}

/// What the counters call an address: IPv6 by its /64.
fn counted_address(address: &str) -> String {
    match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        _ => address.to_owned(),
    }
}

/// The keys of one client id and address.
struct Keys {
    pair: String,
    client: String,
    address: String,
}

impl Keys {
    fn of(client_id: &str, address: &str) -> Self {
        Keys {
            pair: Kind::Pair.key(client_id, address),
            client: Kind::Client.key(client_id, address),
            address: Kind::Address.key(client_id, address),
        }
    }
}

/// The blocks in force: counter key → when it ends.
#[derive(Debug, Default)]
pub struct AuthBlocks {
    until: RwLock<HashMap<String, i64>>,
    /// Whether there is any: all a successful request usually pays.
    any: AtomicBool,
    /// More blocks than memory keeps: requests read their counters.
    overflow: AtomicBool,
}

impl AuthBlocks {
    /// Seconds until `key`'s block ends, if one is in force.
    fn retry_after(&self, key: &str, now: i64) -> Option<i64> {
        let until = self.until.read().unwrap_or_else(|e| e.into_inner());
        until.get(key).filter(|&&at| at > now).map(|at| at - now)
    }

    fn block(&self, key: String, until: i64, now: i64) {
        let mut blocks = self.until.write().unwrap_or_else(|e| e.into_inner());
        if blocks.len() >= MAX_BLOCKS {
            blocks.retain(|_, until| *until > now);
        }
        if blocks.len() < MAX_BLOCKS {
            blocks.insert(key, until);
        } else {
            self.overflow.store(true, Ordering::Release);
        }
        self.any.store(true, Ordering::Release);
    }

    /// Seconds until the later of the wide blocks (the client id's, the
    /// address's) ends, if one is in force.
    fn wide_retry_after(&self, keys: &Keys, now: i64) -> Option<i64> {
        [&keys.client, &keys.address]
            .into_iter()
            .filter_map(|key| self.retry_after(key, now))
            .max()
    }

    /// Refuses a client that authenticated correctly: always while its
    /// pair's counter is full; while its client id's or its address's is,
    /// only if this pair failed in the window. Past the blocks memory keeps,
    /// the counters themselves are read.
    pub async fn check(&self, db: &Db, client_id: &str, address: &str, now: i64) -> Result<()> {
        let overflow = self.overflow.load(Ordering::Acquire);
        if !self.any.load(Ordering::Acquire) && !overflow {
            return Ok(());
        }
        let keys = Keys::of(client_id, &counted_address(address));
        // The pair's own count, when it was read already.
        let (pair, wide, pair_attempts) = if overflow {
            let (attempts, end) = counter(db, &keys.pair, now).await?;
            let full = |(attempts, end): (i64, i64), limit| (attempts > limit).then_some(end - now);
            let client = full(counter(db, &keys.client, now).await?, PER_CLIENT);
            let address = full(counter(db, &keys.address, now).await?, PER_ADDRESS);
            let pair = full((attempts, end), PER_CLIENT_AND_ADDRESS);
            (pair, client.max(address), Some(attempts))
        } else {
            let pair = self.retry_after(&keys.pair, now);
            (pair, self.wide_retry_after(&keys, now), None)
        };
        let refused = match (pair, wide) {
            (Some(retry_after), _) => Some(retry_after),
            (None, Some(retry_after)) => {
                let failed_here = match pair_attempts {
                    Some(attempts) => attempts,
                    None => counter(db, &keys.pair, now).await?.0,
                };
                (failed_here > 0).then_some(retry_after)
            }
            (None, None) => None,
        };
        match refused {
            Some(retry_after) => Err(Error::ClientAuthThrottled {
                retry_after_secs: retry_after.max(1),
            }),
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
        .bind(Kind::ALL.map(Kind::limit).into_iter().min().unwrap_or(0))
        .fetch_all(&db.pool)
        .await?;
        let mut blocks = self.until.write().unwrap_or_else(|e| e.into_inner());
        blocks.retain(|_, until| *until > now);
        let mut overflow = false;
        for (key, window_start, attempts) in full {
            let full = Kind::of_key(&key).is_some_and(|kind| attempts > kind.limit());
            if !full {
                continue;
            }
            if blocks.len() < MAX_BLOCKS {
                blocks.insert(key, window_start + WINDOW_SECS);
            } else {
                overflow = true;
            }
        }
        self.any.store(!blocks.is_empty(), Ordering::Release);
        self.overflow.store(overflow, Ordering::Release);
        Ok(())
    }
}

/// Attempts counted under `key` in its current window, and when it ends.
async fn counter(db: &Db, key: &str, now: i64) -> Result<(i64, i64)> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT attempts, window_start FROM sign_in_counters WHERE key = $1 AND window_start > $2",
    )
    .bind(key)
    .bind(now - WINDOW_SECS)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map_or((0, now), |(attempts, start)| {
        (attempts, start + WINDOW_SECS)
    }))
}

/// A failed client authentication.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub client_id: &'a str,
    pub secret: &'a str,
    pub address: &'a str,
    /// The secret is one of the agent's live ones (the agent may not get
    /// tokens): no guess.
    pub right_secret: bool,
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

async fn counted(
    db: &Db,
    blocks: &AuthBlocks,
    server_keys: &ServerKeys,
    attempt: Attempt<'_>,
    client: Option<&Client>,
    now: i64,
) -> Result<Error> {
    let address = counted_address(attempt.address);
    let keys = Keys::of(attempt.client_id, &address);
    let Some(client) = client else {
        // An unknown client id is counted against its address alone: the
        // counters keep no key a stranger made up.
        if let Some(retry_after_secs) = blocks.retry_after(&keys.address, now) {
            return Ok(Error::ClientAuthThrottled { retry_after_secs });
        }
        let at = Failure::new(None, attempt.address, now);
        return count(db, blocks, &[(Kind::Address, &keys.address)], at).await;
    };
    let at = Failure::new(Some(client), attempt.address, now);
    // Refused already: nothing looked up, nothing written, the same answer
    // whatever the secret was.
    if let Some(retry_after_secs) = blocks.retry_after(&keys.pair, now) {
        return Ok(Error::ClientAuthThrottled { retry_after_secs });
    }
    if let Some(retry_after_secs) = blocks.wide_retry_after(&keys, now) {
        // The pair is still counted, so that its right secret is refused
        // from now on (see `AuthBlocks::check`); at most its limit of writes.
        let (attempts, window_start) = reserve(db, &keys.pair, WINDOW_SECS, now).await?;
        if attempts > Kind::Pair.limit() {
            blocks.block(keys.pair, window_start + WINDOW_SECS, now);
        }
        return Ok(Error::ClientAuthThrottled { retry_after_secs });
    }
    if attempt.right_secret {
        return Ok(Error::InvalidClient);
    }
    if let Some(label) =
        former_secret(db, server_keys, &client.agent.id, attempt.secret, now).await?
    {
        let former_pair = Kind::FormerPair.key(attempt.client_id, &address);
        if let Some(retry_after_secs) = blocks.retry_after(&former_pair, now) {
            return Ok(Error::ClientAuthThrottled { retry_after_secs });
        }
        let former_client = Kind::FormerClient.key(attempt.client_id, &address);
        let kinds = [
            (Kind::FormerPair, &former_pair),
            (Kind::FormerClient, &former_client),
            (Kind::Address, &keys.address),
        ];
        let at = Failure {
            former_label: Some(&label),
            ..at
        };
        return match count(db, blocks, &kinds, at).await? {
            Error::InvalidClient => Ok(Error::FormerSecret { label }),
            other => Ok(other),
        };
    }
    let kinds = [
        (Kind::Pair, &keys.pair),
        (Kind::Client, &keys.client),
        (Kind::Address, &keys.address),
    ];
    count(db, blocks, &kinds, at).await
}

/// One failure being counted, for the agent's page.
#[derive(Debug, Clone, Copy)]
struct Failure<'a> {
    client: Option<&'a Client>,
    /// As the request came (the page shows it, not its /64).
    address: &'a str,
    former_label: Option<&'a str>,
    now: i64,
}

impl<'a> Failure<'a> {
    fn new(client: Option<&'a Client>, address: &'a str, now: i64) -> Self {
        Failure {
            client,
            address,
            former_label: None,
            now,
        }
    }
}

/// Counts a failure under each of `kinds` in turn, stopping at the first
/// that is full (a client already refused eats into no wider budget):
/// `InvalidClient` when every one had room, else `ClientAuthThrottled`.
/// The agent's page gets each wrong secret counted (at most the client
/// id's limit a window), a former secret's first use from an address in a
/// window, and the moment a block began.
async fn count(
    db: &Db,
    blocks: &AuthBlocks,
    kinds: &[(Kind, &String)],
    at: Failure<'_>,
) -> Result<Error> {
    let mut first_from_here = false;
    for (i, (kind, key)) in kinds.iter().enumerate() {
        let (attempts, window_start) = reserve(db, key, WINDOW_SECS, at.now).await?;
        if attempts > kind.limit() {
            let until = window_start + WINDOW_SECS;
            blocks.block((*key).clone(), until, at.now);
            if attempts == kind.limit() + 1 {
                let throttled = AuthFailureReason::Throttled;
                record(db, at, throttled, Some((kind.scope(), until))).await?;
            }
            return Ok(Error::ClientAuthThrottled {
                retry_after_secs: (until - at.now).max(1),
            });
        }
        first_from_here |= i == 0 && attempts == 1;
    }
    match at.former_label {
        None => record(db, at, AuthFailureReason::WrongSecret, None).await?,
        Some(_) if first_from_here => record(db, at, AuthFailureReason::FormerSecret, None).await?,
        Some(_) => {}
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

/// Writes a failure of a known agent (unknown client ids have no page).
async fn record(
    db: &Db,
    at: Failure<'_>,
    reason: AuthFailureReason,
    block: Option<(ThrottleScope, i64)>,
) -> Result<()> {
    let Some(client) = at.client else {
        return Ok(());
    };
    sqlx::query(
        "INSERT INTO agent_auth_failures \
         (id, agent_id, tenant_id, at, client_ip, reason, credential_label, scope, until) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(&client.agent.id)
    .bind(&client.agent.tenant_id)
    .bind(at.now)
    .bind(at.address)
    .bind(reason.as_str())
    .bind(at.former_label)
    .bind(block.map(|(scope, _)| scope.as_str()))
    .bind(block.map(|(_, until)| until))
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
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT at, client_ip, reason, credential_label, scope, until FROM agent_auth_failures \
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
        .filter_map(|(at, client_ip, reason, credential_label, scope, until)| {
            Some(AuthFailure {
                at,
                client_ip,
                reason: AuthFailureReason::parse(&reason)?,
                credential_label,
                scope: scope.as_deref().and_then(ThrottleScope::parse),
                until,
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
    fn ipv6_counts_by_its_64() {
        assert_eq!(
            counted_address("2001:db8:1:2:aaaa::1"),
            counted_address("2001:db8:1:2:ffff:1:2:3")
        );
        assert_ne!(
            counted_address("2001:db8:1:2::1"),
            counted_address("2001:db8:1:3::1")
        );
        assert_eq!(counted_address("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(counted_address("203.0.113.9"), "203.0.113.9");
        assert_eq!(counted_address("unknown"), "unknown");
    }
}
