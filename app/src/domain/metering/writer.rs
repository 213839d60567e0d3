//! The writer: one batch of pending requests at a time. Where each tenant of
//! the batch stands today is read and locked, [`plan`] decides (shared by
//! both stores), the rollups are written and the transaction committed, and
//! only then is every request answered.
//!
//! Two stores: on PostgreSQL an async task on a sqlx connection of its own,
//! two statements a batch, each prepared once; on a SQLite file a thread of
//! its own on a rusqlite connection ([`super::sqlite_writer`]), whose prepared
//! statements spare each batch the SQL parsing and the hand-offs to sqlx's
//! worker thread (together about a tenth of the token endpoint's CPU).

use std::collections::HashMap;
use std::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, FromRow};
use tokio::sync::mpsc;

use super::admission::{decide, Request, TenantDay};
use super::rollups::{postgres_statement, Rollup};
use super::{Admission, Pending};
use crate::domain::clock::SharedClock;
use crate::domain::recent_reads::RecentReads;
use crate::domain::sqlite_reader::{parsed, FromSqliteRow};
use crate::domain::{time_zones, Db, Error, Result};
use crate::model::tiers::{next_utc_midnight, utc_day_start, TierLimits};
use crate::model::Tier;

pub(super) const MAX_BATCH: usize = 1024;

/// Starts the writer of `db`'s usage; it stops when every sender is gone.
/// A SQLite database is always a file ([`Db::connect`] refuses others).
pub(super) fn start(db: Db, clock: SharedClock, rx: mpsc::Receiver<Pending>) {
    match db.reader.as_ref().map(|reader| reader.path().to_owned()) {
        Some(path) => super::sqlite_writer::start(path, db.recent.clone(), clock, rx),
        None => {
            tokio::spawn(run(db, clock, rx));
        }
    }
}

/// Takes whatever else is already queued into `batch`: fewer, larger
/// transactions cost less per request.
pub(super) fn gather(rx: &mut mpsc::Receiver<Pending>, batch: &mut Vec<Pending>) {
    metrics::gauge!("portal_metering_queue_depth").set(rx.len() as f64);
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(p) => batch.push(p),
            Err(_) => break,
        }
    }
}

/// Answers every request of `batch` (emptied) with the batch's outcome.
pub(super) fn answer(
    recent: &RecentReads,
    batch: &mut Vec<Pending>,
    outcome: Result<Vec<Admission>>,
    started: Instant,
) {
    metrics::histogram!("portal_metering_batch_size").record(batch.len() as f64);
    metrics::histogram!("portal_metering_commit_seconds").record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(decisions) => {
            recent.forget_all(batch.iter().map(|p| p.tenant_id.as_str()));
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

async fn run(db: Db, clock: SharedClock, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut stamps = Stamps::default();
    let statements = PostgresStatements {
        lock_today: lock_today_sql("SELECT UNNEST($1::text[]), $2::bigint"),
        rollup: postgres_statement(),
    };
    // The writer's own connection, outside the pool (no checkout per batch;
    // its statements stay prepared). Dropping it, after an error or at
    // shutdown, rolls back whatever transaction it had open.
    let mut conn: Option<PgConnection> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let requests already on their way join this batch.
        tokio::task::yield_now().await;
        gather(&mut rx, &mut batch);
        let started = Instant::now();
        let outcome = match &mut conn {
            Some(c) => commit_batch(c, &statements, &batch, clock.now(), &mut stamps).await,
            None => match connect(&db).await {
                Ok(c) => {
                    let c = conn.insert(c);
                    commit_batch(c, &statements, &batch, clock.now(), &mut stamps).await
                }
                Err(e) => Err(e),
            },
        };
        if outcome.is_err() {
            conn = None;
        }
        answer(&db.recent, &mut batch, outcome, started);
    }
}

/// The text of the PostgreSQL writer's two statements, made once.
struct PostgresStatements {
    lock_today: String,
    rollup: String,
}

/// A connection of its own, to the pool's database.
async fn connect(db: &Db) -> Result<PgConnection> {
    let options = PgConnectOptions::try_from(db.pool.connect_options().as_ref())?;
    Ok(options.connect().await?)
}

/// One batch: lock and read the tenants' counters for today, decide, then
/// write the rollups and commit.
async fn commit_batch(
    conn: &mut PgConnection,
    statements: &PostgresStatements,
    batch: &[Pending],
    now: i64,
    stamps: &mut Stamps,
) -> Result<Vec<Admission>> {
    let mut tx = conn.begin().await?;
    let today: Vec<Today> = sqlx::query_as(&statements.lock_today)
        .bind(tenant_ids(batch))
        .bind(utc_day_start(now))
        .fetch_all(&mut *tx)
        .await?;
    let plan = plan(batch, standing(today, now), now, stamps)?;
    plan.rollup
        .execute_postgres(&mut tx, &statements.rollup)
        .await?;
    tx.commit().await?;
    Ok(plan.done(stamps, now))
}

/// The batch's tenants, each once, in id order: rows are locked in that
/// order, so concurrent writers (PostgreSQL, several instances) never wait
/// for each other in a cycle.
pub(super) fn tenant_ids(batch: &[Pending]) -> Vec<&str> {
    let mut ids: Vec<&str> = batch.iter().map(|p| p.tenant_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Makes sure today's counter rows of the tenants in `rows` (`(tenant,
/// day)` pairs, in tenant order) exist, locks them and returns them with
/// what admission needs of their tenants. The no-op upsert is what takes
/// the lock: on PostgreSQL several instances serialize on the rows; on
/// SQLite BEGIN IMMEDIATE has taken the write lock before anything is read.
pub(super) fn lock_today_sql(rows: &str) -> String {
    format!(
        "INSERT INTO usage_daily (tenant_id, day) {rows} \
         ON CONFLICT (tenant_id, day) DO UPDATE SET tokens_issued = usage_daily.tokens_issued \
         RETURNING tenant_id, tokens_issued, api_calls, \
         (SELECT tier FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS tier, \
         (SELECT time_zone FROM tenants WHERE tenants.id = usage_daily.tenant_id) AS time_zone"
    )
}

/// A row of [`lock_today_sql`].
#[derive(FromRow)]
pub(super) struct Today {
    pub tenant_id: String,
    #[sqlx(try_from = "i64")]
    pub tokens_issued: u64,
    #[sqlx(try_from = "i64")]
    pub api_calls: u64,
    #[sqlx(try_from = "String")]
    pub tier: Tier,
    pub time_zone: String,
}

impl FromSqliteRow for Today {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(Today {
            tenant_id: row.get(0)?,
            tokens_issued: row.get(1)?,
            api_calls: row.get(2)?,
            tier: parsed(row, 3)?,
            time_zone: row.get(4)?,
        })
    }
}

/// Where each tenant stands today, by id.
pub(super) fn standing(today: Vec<Today>, now: i64) -> HashMap<String, TenantDay> {
    today
        .into_iter()
        .map(|t| {
            let zone = time_zones::stored(&t.time_zone);
            let day = TenantDay {
                tier: t.tier,
                limits: TierLimits::of(t.tier),
                tokens_issued: t.tokens_issued,
                api_calls: t.api_calls,
                local_date: time_zones::local_date(now, &zone),
            };
            (t.tenant_id, day)
        })
        .collect()
}

/// What the writer last wrote to `agents.last_token_at`, per agent.
#[derive(Debug, Default)]
pub(super) struct Stamps(HashMap<String, i64>);

/// What a batch writes, and answers once written.
pub(super) struct Plan<'a> {
    pub rollup: Rollup<'a>,
    admissions: Vec<Admission>,
    stamped: Vec<&'a str>,
}

/// Decides the batch against where its tenants stand and gathers what to
/// write.
pub(super) fn plan<'a>(
    batch: &'a [Pending],
    mut tenants: HashMap<String, TenantDay>,
    now: i64,
    stamps: &Stamps,
) -> Result<Plan<'a>> {
    let requests = batch.iter().map(|p| Request {
        tenant_id: &p.tenant_id,
        agent_id: &p.agent_id,
        kind: p.kind,
    });
    let decided =
        decide(requests, &mut tenants, next_utc_midnight(now)).map_err(Error::Internal)?;
    count_by_tier(batch, &decided.admissions, &tenants);
    let mut rollup = Rollup::default();
    let mut stamped = Vec::new();
    for ((tenant_id, agent_id), counts) in &decided.per_agent {
        // The column has one-second precision: one write per agent and
        // second is enough, however many batches that second holds.
        let stamp = counts.tokens_issued > 0 && stamps.0.get(*agent_id) != Some(&now);
        if stamp {
            stamped.push(*agent_id);
        }
        let date = tenants[*tenant_id].local_date;
        rollup.add(tenant_id, agent_id, now, date, *counts, stamp);
    }
    Ok(Plan {
        rollup,
        admissions: decided.admissions,
        stamped,
    })
}

impl Plan<'_> {
    /// After the commit: remembers the stamps written, returns the answers.
    pub fn done(self, stamps: &mut Stamps, now: i64) -> Vec<Admission> {
        if stamps.0.len() > 100_000 {
            stamps.0.clear();
        }
        for agent_id in self.stamped {
            stamps.0.insert(agent_id.to_owned(), now);
        }
        self.admissions
    }
}

/// Tokens and API calls, admitted and refused, by tier (never by tenant:
/// the labels stay few).
fn count_by_tier(
    batch: &[Pending],
    admissions: &[Admission],
    tenants: &HashMap<String, TenantDay>,
) {
    let mut counted: HashMap<_, u64> = HashMap::new();
    for (p, admission) in batch.iter().zip(admissions) {
        let Some(day) = tenants.get(&p.tenant_id) else {
            continue;
        };
        let name = match p.kind {
            super::UsageKind::TokenIssued => "portal_tokens_total",
            super::UsageKind::ApiCall => "portal_api_calls_total",
        };
        let outcome = match admission {
            Admission::Admitted(_) => "admitted",
            Admission::Refused(_) => "refused",
        };
        *counted
            .entry((name, day.tier.as_str(), outcome))
            .or_default() += 1;
    }
    // One registry lookup per label set and batch, not per request.
    for ((name, tier, outcome), n) in counted {
        metrics::counter!(name, "tier" => tier, "outcome" => outcome).increment(n);
    }
}
