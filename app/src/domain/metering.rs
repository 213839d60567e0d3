//! Usage counting and daily-limit admission.
//!
//! Requests that need counting (a token issued, an API call) are handed to one
//! writer task. It takes whatever is queued (up to `MAX_BATCH`), decides
//! admission against the tenant's daily counters, writes the increments in one
//! transaction (group commit) and only then answers every request in the batch.
//! So a client never gets a token the database has not counted, admission is
//! exact however many requests race, and a burst costs one commit, not one per
//! request. Counters are one row per tenant and UTC day for enforcement, plus
//! the rollups analytics reads: per tenant and quarter hour, and per agent and
//! day / month in the tenant's time zone.

use std::collections::HashMap;

use jiff::civil;
use serde::Serialize;
use sqlx::{Any, AnyConnection, Executor, Row, Transaction};
use tokio::sync::{mpsc, oneshot};

use super::clock::SharedClock;
use super::db::Backend;
use super::time_zones;
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
    let mut last_token_at = HashMap::new();
    // The writer's own connection, outside the pool: no checkout per batch,
    // and dropping it (after an error, or at shutdown) rolls back whatever
    // transaction it had open.
    let mut conn: Option<AnyConnection> = None;
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
        let outcome = match &mut conn {
            Some(c) => commit_batch(c, db.backend, &batch, clock.now(), &mut last_token_at).await,
            None => match db.pool.acquire().await {
                Ok(c) => {
                    let c = conn.insert(c.detach());
                    commit_batch(c, db.backend, &batch, clock.now(), &mut last_token_at).await
                }
                Err(e) => Err(e.into()),
            },
        };
        match outcome {
            Ok(decisions) => {
                for (pending, decision) in batch.drain(..).zip(decisions) {
                    let _ = pending.reply.send(Ok(decision));
                }
            }
            Err(e) => {
                conn = None;
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
    /// Today in the tenant's time zone: where analytics files this batch.
    local_date: civil::Date,
}

/// One batch in two round trips: lock and read the tenants' counters for
/// today, decide, then write the rollups and commit. The statements of each
/// round trip travel together, so values are SQL literals: integers, and ids
/// that `id_literal` only lets through when they are our own UUIDs.
///
/// `last_token_at`: what this writer last wrote to `agents.last_token_at`.
async fn commit_batch(
    conn: &mut AnyConnection,
    backend: Backend,
    batch: &[Pending],
    now: i64,
    last_token_at: &mut HashMap<String, i64>,
) -> Result<Vec<Admission>> {
    let day = utc_day_start(now);
    let reset_at = next_utc_midnight(now);

    // The no-op upsert makes sure today's rows exist and locks them: on
    // PostgreSQL several instances serialize on the rows (taken in id order,
    // so never in a cycle); on SQLite BEGIN IMMEDIATE takes the write lock
    // before anything is read.
    let mut tenant_ids: Vec<&str> = batch.iter().map(|p| p.tenant_id.as_str()).collect();
    tenant_ids.sort_unstable();
    tenant_ids.dedup();
    let values = tenant_ids
        .iter()
        .map(|t| Ok(format!("({}, {day})", id_literal(t)?)))
        .collect::<Result<Vec<_>>>()?
        .join(", ");
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let read = format!(
        "{begin}; INSERT INTO usage_daily (tenant_id, day) VALUES {values} \
         ON CONFLICT (tenant_id, day) DO UPDATE SET tokens_issued = usage_daily.tokens_issued \
         RETURNING tenant_id, tokens_issued, api_calls, \
         (SELECT tier FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS tier, \
         (SELECT time_zone FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS time_zone"
    );
    let mut tenants: HashMap<String, TenantDay> = HashMap::new();
    let rows = Executor::fetch_all(&mut *conn, sqlx::raw_sql(&read)).await?;
    for row in rows {
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
        tenants.insert(
            row.try_get("tenant_id")?,
            TenantDay {
                limits: TierLimits::of(tier),
                used,
                local_date: time_zones::local_date(
                    now,
                    &time_zones::stored(&row.try_get::<String, _>("time_zone")?),
                ),
            },
        );
    }

    let mut per_agent: HashMap<(&str, &str), Counts> = HashMap::new();
    let mut per_tenant: HashMap<&str, Counts> = HashMap::new();
    let mut decisions = Vec::with_capacity(batch.len());
    for p in batch {
        let state = tenants
            .get_mut(p.tenant_id.as_str())
            .ok_or_else(|| Error::Internal(format!("no counters for tenant {}", p.tenant_id)))?;
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
        decisions.push(if admitted {
            Admission::Admitted(quota)
        } else {
            Admission::Refused(quota)
        });
    }

    let mut write = String::new();
    let slot = now - now.rem_euclid(QUARTER);
    let mut agent_days = Vec::with_capacity(per_agent.len());
    let mut agent_months = Vec::with_capacity(per_agent.len());
    for ((tenant_id, agent_id), c) in &per_agent {
        let date = tenants[*tenant_id].local_date;
        let (t, a) = (id_literal(tenant_id)?, id_literal(agent_id)?);
        let counts = format!("{}, {}, {}", c.tokens_issued, c.api_calls, c.refused);
        agent_days.push(format!("({t}, '{date}', {a}, {counts})"));
        agent_months.push(format!(
            "({t}, '{}', {a}, {counts}, {now})",
            time_zones::month_label(date)
        ));
    }
    write.push_str(&format!(
        "INSERT INTO usage_agent_day (tenant_id, local_date, agent_id, tokens_issued, api_calls, refused) \
         VALUES {} ON CONFLICT (tenant_id, agent_id, local_date) DO UPDATE SET {ADD_COUNTS_DAY};",
        agent_days.join(", ")
    ));
    write.push_str(&format!(
        " INSERT INTO usage_agent_month (tenant_id, month, agent_id, tokens_issued, api_calls, refused, last_at) \
         VALUES {} ON CONFLICT (tenant_id, month, agent_id) DO UPDATE SET {ADD_COUNTS_MONTH}, {LATEST_LAST_AT};",
        agent_months.join(", ")
    ));
    let quarters = per_tenant
        .iter()
        .map(|(tenant_id, c)| {
            Ok(format!(
                "({}, {slot}, {}, {}, {})",
                id_literal(tenant_id)?,
                c.tokens_issued,
                c.api_calls,
                c.refused
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    write.push_str(&format!(
        " INSERT INTO usage_tenant_quarter (tenant_id, slot, tokens_issued, api_calls, refused) \
         VALUES {} ON CONFLICT (tenant_id, slot) DO UPDATE SET {ADD_COUNTS_QUARTER};",
        quarters.join(", ")
    ));
    for (tenant_id, c) in &per_tenant {
        write.push_str(&format!(
            " UPDATE usage_daily SET tokens_issued = tokens_issued + {}, \
             api_calls = api_calls + {}, refused = refused + {} \
             WHERE tenant_id = {} AND day = {day};",
            c.tokens_issued,
            c.api_calls,
            c.refused,
            id_literal(tenant_id)?
        ));
    }
    // The column has one-second precision: one write per agent and second
    // is enough, however many batches that second holds.
    let stamped: Vec<&str> = per_agent
        .iter()
        .filter(|((_, agent_id), c)| {
            c.tokens_issued > 0 && last_token_at.get(*agent_id) != Some(&now)
        })
        .map(|((_, agent_id), _)| *agent_id)
        .collect();
    if !stamped.is_empty() {
        let ids = stamped
            .iter()
            .map(|a| id_literal(a))
            .collect::<Result<Vec<_>>>()?
            .join(", ");
        write.push_str(&format!(
            " UPDATE agents SET last_token_at = {now} WHERE id IN ({ids});"
        ));
    }
    write.push_str(" COMMIT");
    Executor::execute(&mut *conn, sqlx::raw_sql(&write)).await?;

    if last_token_at.len() > 100_000 {
        last_token_at.clear();
    }
    for agent_id in stamped {
        last_token_at.insert(agent_id.to_owned(), now);
    }
    Ok(decisions)
}

/// Analytics' finest grain: 15 minutes, on which every zone's hours fall.
pub const QUARTER: i64 = 900;

macro_rules! add_counts {
    ($table:literal) => {
        concat!(
            "tokens_issued = ",
            $table,
            ".tokens_issued + excluded.tokens_issued, ",
            "api_calls = ",
            $table,
            ".api_calls + excluded.api_calls, ",
            "refused = ",
            $table,
            ".refused + excluded.refused"
        )
    };
}
const ADD_COUNTS_DAY: &str = add_counts!("usage_agent_day");
const ADD_COUNTS_MONTH: &str = add_counts!("usage_agent_month");
const ADD_COUNTS_QUARTER: &str = add_counts!("usage_tenant_quarter");
const ADD_COUNTS_DAILY: &str = add_counts!("usage_daily");
/// `GREATEST` on PostgreSQL is `max` on SQLite: spelled out for both.
const LATEST_LAST_AT: &str = "last_at = CASE WHEN excluded.last_at > usage_agent_month.last_at \
     THEN excluded.last_at ELSE usage_agent_month.last_at END";

/// Ids are generated here (UUIDs); anything else is refused, not escaped.
fn id_literal(id: &str) -> Result<String> {
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(format!("'{id}'"))
    } else {
        Err(Error::Internal(format!(
            "unexpected id {id:?} in a usage batch"
        )))
    }
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
/// history (the demo seeder, tests, the analytics benchmark) goes through the
/// same rollups as live traffic.
pub async fn record_history(db: &Db, entries: &[PastUsage]) -> Result<()> {
    let mut zones: HashMap<&str, jiff::tz::TimeZone> = HashMap::new();
    for e in entries {
        if !zones.contains_key(e.tenant_id.as_str()) {
            let tenant = super::tenants::get(db, &e.tenant_id).await?;
            zones.insert(&e.tenant_id, time_zones::stored(&tenant.time_zone));
        }
    }
    let mut quarters: HashMap<(&str, i64), Counts> = HashMap::new();
    let mut agent_days: HashMap<(&str, civil::Date, &str), Counts> = HashMap::new();
    let mut agent_months: HashMap<(&str, String, &str), (Counts, i64)> = HashMap::new();
    let mut daily: HashMap<(&str, i64), Counts> = HashMap::new();
    let mut last_token: HashMap<&str, i64> = HashMap::new();
    for e in entries {
        let tenant = e.tenant_id.as_str();
        let date = time_zones::local_date(e.at, &zones[tenant]);
        quarters
            .entry((tenant, e.at - e.at.rem_euclid(QUARTER)))
            .or_default()
            .merge(e.counts);
        agent_days
            .entry((tenant, date, &e.agent_id))
            .or_default()
            .merge(e.counts);
        let month = agent_months
            .entry((tenant, time_zones::month_label(date), &e.agent_id))
            .or_insert((Counts::default(), e.at));
        month.0.merge(e.counts);
        month.1 = month.1.max(e.at);
        daily
            .entry((tenant, utc_day_start(e.at)))
            .or_default()
            .merge(e.counts);
        if e.counts.tokens_issued > 0 {
            let last = last_token.entry(&e.agent_id).or_insert(e.at);
            *last = (*last).max(e.at);
        }
    }
    let counts = |c: &Counts| {
        [
            Bind::Int(c.tokens_issued),
            Bind::Int(c.api_calls),
            Bind::Int(c.refused),
        ]
    };
    let mut tx = db.pool.begin().await?;
    insert_rows(
        &mut tx,
        "usage_tenant_quarter (tenant_id, slot, tokens_issued, api_calls, refused)",
        &format!("(tenant_id, slot) DO UPDATE SET {ADD_COUNTS_QUARTER}"),
        quarters.iter().map(|((t, slot), c)| {
            let [a, b, r] = counts(c);
            vec![Bind::Text(t.to_string()), Bind::Int(*slot), a, b, r]
        }),
    )
    .await?;
    insert_rows(
        &mut tx,
        "usage_agent_day (tenant_id, local_date, agent_id, tokens_issued, api_calls, refused)",
        &format!("(tenant_id, agent_id, local_date) DO UPDATE SET {ADD_COUNTS_DAY}"),
        agent_days.iter().map(|((t, date, agent), c)| {
            let [a, b, r] = counts(c);
            vec![
                Bind::Text(t.to_string()),
                Bind::Text(date.to_string()),
                Bind::Text(agent.to_string()),
                a,
                b,
                r,
            ]
        }),
    )
    .await?;
    insert_rows(
        &mut tx,
        "usage_agent_month (tenant_id, month, agent_id, tokens_issued, api_calls, refused, last_at)",
        &format!("(tenant_id, month, agent_id) DO UPDATE SET {ADD_COUNTS_MONTH}, {LATEST_LAST_AT}"),
        agent_months.iter().map(|((t, month, agent), (c, last))| {
            let [a, b, r] = counts(c);
            vec![
                Bind::Text(t.to_string()),
                Bind::Text(month.clone()),
                Bind::Text(agent.to_string()),
                a,
                b,
                r,
                Bind::Int(*last),
            ]
        }),
    )
    .await?;
    insert_rows(
        &mut tx,
        "usage_daily (tenant_id, day, tokens_issued, api_calls, refused)",
        &format!("(tenant_id, day) DO UPDATE SET {ADD_COUNTS_DAILY}"),
        daily.iter().map(|((t, day), c)| {
            let [a, b, r] = counts(c);
            vec![Bind::Text(t.to_string()), Bind::Int(*day), a, b, r]
        }),
    )
    .await?;
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

enum Bind {
    Text(String),
    Int(i64),
}

/// `INSERT INTO {into} VALUES (...), (...) ON CONFLICT {on_conflict}`, many
/// rows per statement: one round trip per chunk, not per row.
async fn insert_rows(
    tx: &mut Transaction<'_, Any>,
    into: &str,
    on_conflict: &str,
    rows: impl Iterator<Item = Vec<Bind>>,
) -> Result<()> {
    let rows: Vec<Vec<Bind>> = rows.collect();
    for chunk in rows.chunks(400) {
        let mut n = 0;
        let values: Vec<String> = chunk
            .iter()
            .map(|row| {
                let params: Vec<String> = row
                    .iter()
                    .map(|_| {
                        n += 1;
                        format!("${n}")
                    })
                    .collect();
                format!("({})", params.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {into} VALUES {} ON CONFLICT {on_conflict}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for bind in chunk.iter().flatten() {
            query = match bind {
                Bind::Text(t) => query.bind(t.as_str()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query.execute(&mut **tx).await?;
    }
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
