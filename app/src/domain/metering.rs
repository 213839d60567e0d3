//! Usage counting and daily-limit admission.
//!
//! Requests that need counting (a token issued, an API call) are handed to one
//! writer task. It takes whatever is queued (up to `MAX_BATCH`), decides
//! admission against the tenant's daily counters, writes the increments in one
//! transaction (group commit) and only then answers every request in the batch.
//! So a client never gets a token the database has not counted, admission is
//! exact however many requests race, and a burst costs one commit, not one per
//! request. Counters are hourly rollups per tenant and agent, plus one row per
//! tenant and UTC day for enforcement.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::clock::SharedClock;
use super::db::Backend;
use super::{Db, Error, Result};
use crate::model::Tier;
use crate::tiers::{next_utc_midnight, utc_day_start, TierLimits};

const MAX_BATCH: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UsageKind {
    TokenIssued,
    ApiCall,
}

impl UsageKind {
    pub fn limit_name(self) -> &'static str {
        match self {
            UsageKind::TokenIssued => "token_issuances_per_day",
            UsageKind::ApiCall => "api_calls_per_day",
        }
    }
    fn limit(self, limits: &TierLimits) -> Option<u64> {
        match self {
            UsageKind::TokenIssued => limits.tokens_per_day,
            UsageKind::ApiCall => limits.api_calls_per_day,
        }
    }
}

/// Where a tenant stands against one daily limit, after this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// `None`: unlimited.
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Unix time of the next 00:00 UTC.
    pub reset_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted(Quota),
    Refused(Quota),
}

/// Counts written in one go: what the meter adds per batch, and what the demo
/// seeder writes for past hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tokens_issued: i64,
    pub api_calls: i64,
    pub refused: i64,
}

impl Counts {
    fn merge(&mut self, other: Counts) {
        self.tokens_issued += other.tokens_issued;
        self.api_calls += other.api_calls;
        self.refused += other.refused;
    }

    fn add(&mut self, kind: UsageKind, admitted: bool) {
        match (admitted, kind) {
            (false, _) => self.refused += 1,
            (true, UsageKind::TokenIssued) => self.tokens_issued += 1,
            (true, UsageKind::ApiCall) => self.api_calls += 1,
        }
    }
}

struct Pending {
    tenant_id: String,
    agent_id: String,
    kind: UsageKind,
    reply: oneshot::Sender<Result<Admission, String>>,
}

/// The handle to the writer task; cheap to clone.
#[derive(Clone, Debug)]
pub struct Meter {
    /// `None`: the benchmark's baseline, which counts and limits nothing.
    tx: Option<mpsc::Sender<Pending>>,
    clock: SharedClock,
}

impl Meter {
    pub fn start(db: Db, clock: SharedClock) -> Meter {
        let (tx, rx) = mpsc::channel(16 * MAX_BATCH);
        tokio::spawn(writer(db, clock.clone(), rx));
        Meter {
            tx: Some(tx),
            clock,
        }
    }

    /// Admits everything and writes nothing: only for measuring what
    /// metering costs (`portal serve --benchmark-without-metering`).
    pub fn unmetered(clock: SharedClock) -> Meter {
        Meter { tx: None, clock }
    }

    /// Admits (and counts) one token issuance or API call of `agent_id`, or
    /// refuses (and counts the refusal) when the tenant's daily limit is used
    /// up. Returns once the count is committed.
    pub async fn admit(
        &self,
        tenant_id: &str,
        agent_id: &str,
        kind: UsageKind,
    ) -> Result<Admission> {
        let Some(tx) = &self.tx else {
            return Ok(Admission::Admitted(Quota {
                limit: None,
                remaining: None,
                reset_at: next_utc_midnight(self.clock.now()),
            }));
        };
        let (reply, answer) = oneshot::channel();
        tx.send(Pending {
            tenant_id: tenant_id.to_owned(),
            agent_id: agent_id.to_owned(),
            kind,
            reply,
        })
        .await
        .map_err(|_| Error::Internal("the meter has stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the meter dropped a request".into()))?
            .map_err(Error::Internal)
    }
}

async fn writer(db: Db, clock: SharedClock, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let requests already on their way join this batch: fewer, larger
        // transactions cost less per request.
        tokio::task::yield_now().await;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let outcome = commit_batch(&db, &batch, clock.now()).await;
        match outcome {
            Ok(decisions) => {
                for (pending, decision) in batch.drain(..).zip(decisions) {
                    let _ = pending.reply.send(Ok(decision));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "usage batch failed; its requests are refused");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(e.to_string()));
                }
            }
        }
    }
}

struct TenantDay {
    limits: TierLimits,
    used: HashMap<UsageKind, u64>,
}

async fn commit_batch(db: &Db, batch: &[Pending], now: i64) -> Result<Vec<Admission>> {
    let day = utc_day_start(now);
    let hour = now - now.rem_euclid(3600);
    let reset_at = next_utc_midnight(now);
    let mut tx = db.pool.begin().await?;

    let mut tenants: HashMap<&str, TenantDay> = HashMap::new();
    for p in batch {
        if !tenants.contains_key(p.tenant_id.as_str()) {
            let state = lock_tenant_day(&mut tx, db.backend, &p.tenant_id, day).await?;
            tenants.insert(&p.tenant_id, state);
        }
    }

    let mut per_agent: HashMap<(&str, &str), Counts> = HashMap::new();
    let mut per_tenant: HashMap<&str, Counts> = HashMap::new();
    let decisions = batch
        .iter()
        .map(|p| {
            let state = tenants.get_mut(p.tenant_id.as_str()).expect("loaded above");
            let limit = p.kind.limit(&state.limits);
            let used = state.used.entry(p.kind).or_default();
            let admitted = limit.is_none_or(|l| *used < l);
            if admitted {
                *used += 1;
            }
            per_agent
                .entry((&p.tenant_id, &p.agent_id))
                .or_default()
                .add(p.kind, admitted);
            per_tenant
                .entry(&p.tenant_id)
                .or_default()
                .add(p.kind, admitted);
            let quota = Quota {
                limit,
                remaining: limit.map(|l| l.saturating_sub(*used)),
                reset_at,
            };
            if admitted {
                Admission::Admitted(quota)
            } else {
                Admission::Refused(quota)
            }
        })
        .collect();

    for ((tenant_id, agent_id), counts) in &per_agent {
        add_hourly(&mut tx, tenant_id, agent_id, hour, *counts).await?;
        if counts.tokens_issued > 0 {
            sqlx::query("UPDATE agents SET last_token_at = $1 WHERE id = $2")
                .bind(now)
                .bind(*agent_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    for (tenant_id, counts) in &per_tenant {
        add_daily(&mut tx, tenant_id, day, *counts).await?;
    }
    tx.commit().await?;
    Ok(decisions)
}

/// Makes sure today's counter row exists and locks it for this transaction.
/// On SQLite the insert takes the write lock before anything is read.
async fn lock_tenant_day(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    tenant_id: &str,
    day: i64,
) -> Result<TenantDay> {
    sqlx::query("INSERT INTO usage_daily (tenant_id, day) VALUES ($1, $2) ON CONFLICT (tenant_id, day) DO NOTHING")
        .bind(tenant_id)
        .bind(day)
        .execute(&mut **tx)
        .await?;
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT d.tokens_issued, d.api_calls, t.tier FROM usage_daily d \
             JOIN tenants t ON t.id = d.tenant_id WHERE d.tenant_id = $1 AND d.day = $2"
        }
        Backend::Postgres => {
            "SELECT d.tokens_issued, d.api_calls, t.tier FROM usage_daily d \
             JOIN tenants t ON t.id = d.tenant_id WHERE d.tenant_id = $1 AND d.day = $2 FOR UPDATE OF d"
        }
    };
    let row = sqlx::query(sql)
        .bind(tenant_id)
        .bind(day)
        .fetch_one(&mut **tx)
        .await?;
    let tier: Tier = row
        .try_get::<String, _>("tier")?
        .parse()
        .map_err(Error::Internal)?;
    let used = HashMap::from([
        (
            UsageKind::TokenIssued,
            row.try_get::<i64, _>("tokens_issued")? as u64,
        ),
        (
            UsageKind::ApiCall,
            row.try_get::<i64, _>("api_calls")? as u64,
        ),
    ]);
    Ok(TenantDay {
        limits: TierLimits::of(tier),
        used,
    })
}

async fn add_hourly(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    agent_id: &str,
    hour: i64,
    c: Counts,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO usage_hourly (tenant_id, agent_id, hour, tokens_issued, api_calls, refused) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, agent_id, hour) DO UPDATE SET \
         tokens_issued = usage_hourly.tokens_issued + excluded.tokens_issued, \
         api_calls = usage_hourly.api_calls + excluded.api_calls, \
         refused = usage_hourly.refused + excluded.refused",
    )
    .bind(tenant_id)
    .bind(agent_id)
    .bind(hour)
    .bind(c.tokens_issued)
    .bind(c.api_calls)
    .bind(c.refused)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn add_daily(
    tx: &mut Transaction<'_, Any>,
    tenant_id: &str,
    day: i64,
    c: Counts,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO usage_daily (tenant_id, day, tokens_issued, api_calls, refused) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, day) DO UPDATE SET \
         tokens_issued = usage_daily.tokens_issued + excluded.tokens_issued, \
         api_calls = usage_daily.api_calls + excluded.api_calls, \
         refused = usage_daily.refused + excluded.refused",
    )
    .bind(tenant_id)
    .bind(day)
    .bind(c.tokens_issued)
    .bind(c.api_calls)
    .bind(c.refused)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts of one agent for one past hour.
#[derive(Debug, Clone)]
pub struct PastUsage {
    pub tenant_id: String,
    pub agent_id: String,
    /// Any time within the hour.
    pub at: i64,
    pub counts: Counts,
}

/// Writes past usage without admission, in one transaction: back-filled
/// history (the demo seeder, tests) goes through the same rollups as live
/// traffic.
pub async fn record_history(db: &Db, entries: &[PastUsage]) -> Result<()> {
    let mut hourly: HashMap<(&str, &str, i64), Counts> = HashMap::new();
    let mut daily: HashMap<(&str, i64), Counts> = HashMap::new();
    let mut last_token: HashMap<&str, i64> = HashMap::new();
    for e in entries {
        let hour = e.at - e.at.rem_euclid(3600);
        hourly
            .entry((&e.tenant_id, &e.agent_id, hour))
            .or_default()
            .merge(e.counts);
        daily
            .entry((&e.tenant_id, utc_day_start(e.at)))
            .or_default()
            .merge(e.counts);
        if e.counts.tokens_issued > 0 {
            let last = last_token.entry(&e.agent_id).or_insert(e.at);
            *last = (*last).max(e.at);
        }
    }
    let mut tx = db.pool.begin().await?;
    // Many rows per statement: one round trip per chunk, not per hour.
    let hourly: Vec<_> = hourly.into_iter().collect();
    for chunk in hourly.chunks(500) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 6;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO usage_hourly (tenant_id, agent_id, hour, tokens_issued, api_calls, refused) \
             VALUES {} ON CONFLICT (tenant_id, agent_id, hour) DO UPDATE SET \
             tokens_issued = usage_hourly.tokens_issued + excluded.tokens_issued, \
             api_calls = usage_hourly.api_calls + excluded.api_calls, \
             refused = usage_hourly.refused + excluded.refused",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for ((tenant_id, agent_id, hour), c) in chunk {
            query = query
                .bind(*tenant_id)
                .bind(*agent_id)
                .bind(*hour)
                .bind(c.tokens_issued)
                .bind(c.api_calls)
                .bind(c.refused);
        }
        query.execute(&mut *tx).await?;
    }
    for ((tenant_id, day), counts) in daily {
        add_daily(&mut tx, tenant_id, day, counts).await?;
    }
    for (agent_id, at) in last_token {
        sqlx::query(
            "UPDATE agents SET last_token_at = $1 WHERE id = $2 AND (last_token_at IS NULL OR last_token_at < $1)",
        )
        .bind(at)
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One past hour of one agent (see `record_history`).
pub async fn record_past_hour(
    db: &Db,
    tenant_id: &str,
    agent_id: &str,
    at: i64,
    counts: Counts,
) -> Result<()> {
    let entry = PastUsage {
        tenant_id: tenant_id.to_owned(),
        agent_id: agent_id.to_owned(),
        at,
        counts,
    };
    record_history(db, std::slice::from_ref(&entry)).await
}

/// A tenant's counters for the UTC day containing `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageToday {
    pub tokens_issued: u64,
    pub api_calls: u64,
    pub refused: u64,
}

pub async fn usage_today(db: &Db, tenant_id: &str, now: i64) -> Result<UsageToday> {
    let row = sqlx::query("SELECT tokens_issued, api_calls, refused FROM usage_daily WHERE tenant_id = $1 AND day = $2")
        .bind(tenant_id)
        .bind(utc_day_start(now))
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(UsageToday::default());
    };
    Ok(UsageToday {
        tokens_issued: row.try_get::<i64, _>("tokens_issued")? as u64,
        api_calls: row.try_get::<i64, _>("api_calls")? as u64,
        refused: row.try_get::<i64, _>("refused")? as u64,
    })
}
