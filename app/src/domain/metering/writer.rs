//! The writer: one batch of pending requests at a time. Where each tenant of
//! the batch stands today is read and locked, [`plan`] decides (shared by
//! both stores), the rollups are written and the transaction committed, and
//! only then is every request answered.
//!
//! Two stores: on PostgreSQL an async task on a sqlx connection of its own,
//! two statements a batch, each prepared once (one for tenants known to be
//! unlimited, see [`Unlimited`]); on a SQLite file a thread of
//! its own on a rusqlite connection ([`super::sqlite_writer`]), whose prepared
//! statements spare each batch the SQL parsing and the hand-offs to sqlx's
//! worker thread (together about a tenth of the token endpoint's CPU).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, FromRow};
use tokio::sync::mpsc;

use super::admission::{decide, Request, TenantDay};
use super::journal::Journal;
use super::rollups::{Guard, PostgresRollup, Rollup};
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
pub(super) fn start(
    db: Db,
    clock: SharedClock,
    rx: mpsc::Receiver<Pending>,
    journal: Option<Arc<Journal>>,
) {
    match (
        db.reader.as_ref().map(|reader| reader.path().to_owned()),
        journal,
    ) {
        (Some(path), Some(journal)) => {
            super::sqlite_writer::start(path, db.recent.clone(), clock, rx, journal)
        }
        _ => {
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
    let mut learnt = Learnt::default();
    let statements = PostgresStatements {
        lock_today: lock_today_sql("SELECT UNNEST($1::text[]), $2::bigint"),
        rollup: PostgresRollup::new(),
    };
    // A few batches ahead at most: while flushes stall (a disk, a standby
    // that does not answer), the writer stops too, rather than counting
    // requests nobody is answered for.
    let (written, to_flush) = mpsc::channel(4);
    tokio::spawn(flush_then_answer(db.clone(), to_flush));
    // The writer's own connection, outside the pool (no checkout per batch;
    // its statements stay prepared). Dropping it, after an error or at
    // shutdown, rolls back whatever transaction it had open.
    let mut conn: Option<PgConnection> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let requests already on their way join this batch.
        tokio::task::yield_now().await;
        gather(&mut rx, &mut batch);
        let now = clock.now();
        let mut c = match conn.take() {
            Some(c) => c,
            None => match connect(&db, Commit::Early).await {
                Ok(c) => c,
                Err(e) => {
                    answer(&db.recent, &mut batch, Err(e), Instant::now());
                    continue;
                }
            },
        };
        if write(
            &mut c,
            &statements,
            &mut batch,
            &mut learnt,
            now,
            &db.recent,
            &written,
        )
        .await
        {
            conn = Some(c);
        }
    }
}

/// A batch committed (with `synchronous_commit = off`) and not yet
/// answered.
struct Written {
    batch: Vec<Pending>,
    admissions: Vec<Admission>,
    started: Instant,
}

/// Group commit on a durable cluster. The writer commits without waiting
/// for the WAL flush, so its transaction lets go of the counter rows it
/// locked at once instead of holding them through an fsync: other
/// instances' writers, and this writer's next batch, go on meanwhile
/// (holding them through the flush cost a third of two instances'
/// throughput). Nobody is answered before this task's own synchronous
/// commit, which flushes the WAL up to it and so every commit before it (WAL
/// is written in order): no token goes out that a crash could uncount, and
/// one flush covers every batch waiting. What another writer read of a
/// batch before its flush is safe too: its own commit comes later in the
/// WAL.
async fn flush_then_answer(db: Db, mut to_flush: mpsc::Receiver<Written>) {
    let mut waiting = Vec::new();
    let mut conn: Option<PgConnection> = None;
    while to_flush.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        // A flush that does not come back in time fails its batches (and
        // its connection is dropped): their clients are not kept waiting.
        let flushed = match tokio::time::timeout(FLUSH_TIMEOUT, flush(&db, &mut conn)).await {
            Ok(flushed) => flushed,
            Err(_) => {
                conn = None;
                Err(Error::Internal("the WAL flush took too long".into()))
            }
        };
        if let Err(e) = &flushed {
            // Committed, perhaps not on disk: refused, so a crash can only
            // leave a request counted that was never served.
            tracing::error!(error = %e, "flushing usage batches failed; their requests are refused");
        }
        for mut w in waiting.drain(..) {
            let outcome = match &flushed {
                Ok(()) => Ok(w.admissions),
                Err(e) => Err(Error::Internal(e.to_string())),
            };
            answer(&db.recent, &mut w.batch, outcome, w.started);
        }
    }
}

/// How long answering a batch may wait for its flush.
const FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A synchronous commit that writes WAL (a commit that wrote none is not
/// flushed): a row per writer connection, so flushes never wait for each
/// other's locks.
async fn flush(db: &Db, conn: &mut Option<PgConnection>) -> Result<()> {
    let mut c = match conn.take() {
        Some(c) => c,
        None => connect(db, Commit::Durable).await?,
    };
    sqlx::query(
        "INSERT INTO metering_flushes (backend_pid) VALUES (pg_backend_pid()) \
         ON CONFLICT (backend_pid) DO UPDATE SET flushes = metering_flushes.flushes + 1",
    )
    .execute(&mut c)
    .await?;
    *conn = Some(c);
    Ok(())
}

/// What the PostgreSQL writer learnt from earlier batches.
#[derive(Default)]
struct Learnt {
    stamps: Stamps,
    unlimited: Unlimited,
}

/// Writes and answers `batch` (emptied): the requests of tenants known to
/// be unlimited first, then the rest (and any of those whose tenant
/// changed) the locked way. `false`: the connection is to be dropped.
async fn write(
    c: &mut PgConnection,
    statements: &PostgresStatements,
    batch: &mut Vec<Pending>,
    learnt: &mut Learnt,
    now: i64,
    recent: &RecentReads,
    written: &mpsc::Sender<Written>,
) -> bool {
    let started = Instant::now();
    let mut unlocked = learnt.unlimited.take_from(batch);
    if !unlocked.is_empty() {
        match commit_unlimited(c, &statements.rollup, &unlocked, learnt, now).await {
            Ok(Some(admissions)) => {
                let _ = written
                    .send(Written {
                        batch: std::mem::take(&mut unlocked),
                        admissions,
                        started,
                    })
                    .await;
            }
            outcome => {
                // A tier or time zone changed, or the statement failed
                // (PostgreSQL rolled it back; had the connection died after
                // it committed, these would count twice, never zero times):
                // these take the locked way too.
                if let Err(e) = outcome {
                    tracing::warn!(error = %e, "unlimited tenants' usage batch failed");
                }
                learnt.unlimited.forget(&unlocked);
                batch.append(&mut unlocked);
            }
        }
    }
    if batch.is_empty() {
        return true;
    }
    match commit_batch(c, statements, batch, now, learnt).await {
        Ok(admissions) => {
            let batch = std::mem::replace(batch, Vec::with_capacity(MAX_BATCH));
            let _ = written
                .send(Written {
                    batch,
                    admissions,
                    started,
                })
                .await;
            true
        }
        Err(e) => {
            answer(recent, batch, Err(e), started);
            false
        }
    }
}

/// The text of the PostgreSQL writer's statements, made once.
struct PostgresStatements {
    lock_today: String,
    rollup: PostgresRollup,
}

/// How a writer connection's transactions commit.
#[derive(Clone, Copy)]
enum Commit {
    /// Without waiting for the WAL flush: the batches' ([`flush_then_answer`]).
    Early,
    /// As configured (durable by default): the flushes'.
    Durable,
}

/// A connection of its own, to the pool's database. Its statements have
/// one shape and arrays for parameters, so a plan made for one batch's
/// values is no better than the generic one: PostgreSQL would otherwise
/// keep planning the guarded statement for every batch (in pgbench, about
/// 0.3 ms a batch against 0.2 ms with its generic plan).
async fn connect(db: &Db, commit: Commit) -> Result<PgConnection> {
    let options = PgConnectOptions::try_from(db.pool.connect_options().as_ref())?
        .options([("plan_cache_mode", "force_generic_plan")]);
    let options = match commit {
        Commit::Early => options.options([("synchronous_commit", "off")]),
        Commit::Durable => options,
    };
    Ok(options.connect().await?)
}

/// One batch: lock and read the tenants' counters for today, decide, then
/// write the rollups and commit. Learns which tenants are unlimited.
async fn commit_batch(
    conn: &mut PgConnection,
    statements: &PostgresStatements,
    batch: &[Pending],
    now: i64,
    learnt: &mut Learnt,
) -> Result<Vec<Admission>> {
    let mut tx = conn.begin().await?;
    let today: Vec<Today> = sqlx::query_as(&statements.lock_today)
        .bind(tenant_ids(batch))
        .bind(utc_day_start(now))
        .fetch_all(&mut *tx)
        .await?;
    learnt.unlimited.learn(&today);
    let plan = plan(batch, standing(today, now), now, &learnt.stamps)?;
    plan.rollup
        .execute_postgres(&mut tx, &statements.rollup, None)
        .await?;
    tx.commit().await?;
    Ok(plan.done(batch, &mut learnt.stamps, now))
}

/// A batch of tenants last read as unlimited: nothing is decided against
/// their counters, so it needs neither a transaction nor the counters read
/// and locked first; one statement (`guarded`) writes it, if the tenants
/// still have that tier and time zone. `None`: one of them changed, nothing
/// written.
async fn commit_unlimited(
    conn: &mut PgConnection,
    rollup: &PostgresRollup,
    batch: &[Pending],
    learnt: &mut Learnt,
    now: i64,
) -> Result<Option<Vec<Admission>>> {
    let tenants = tenant_ids(batch);
    let (today, guard) = learnt.unlimited.standing(tenants);
    let plan = plan(batch, standing(today, now), now, &learnt.stamps)?;
    if !plan
        .rollup
        .execute_postgres(conn, rollup, Some(guard))
        .await?
    {
        return Ok(None);
    }
    Ok(Some(plan.done(batch, &mut learnt.stamps, now)))
}

/// Tenants with no daily limit (enterprise), with the tier and time zone
/// the writer last read for them. Nearly all the token endpoint's load
/// comes from them (a limited tier runs out within seconds at that rate);
/// on PostgreSQL their batches skip BEGIN, the counters' read and COMMIT,
/// a third of the writer's round trips and most of the database's work.
#[derive(Debug, Default)]
struct Unlimited(HashMap<String, (Tier, String)>);

impl Unlimited {
    /// Remembers the unlimited tenants of `today`, forgets the others.
    fn learn(&mut self, today: &[Today]) {
        if self.0.len() > 100_000 {
            self.0.clear();
        }
        for t in today {
            if !TierLimits::of(t.tier).has_no_daily_limit() {
                self.0.remove(&t.tenant_id);
                continue;
            }
            let known = self.0.get(&t.tenant_id);
            if !known.is_some_and(|(tier, zone)| *tier == t.tier && *zone == t.time_zone) {
                self.0
                    .insert(t.tenant_id.clone(), (t.tier, t.time_zone.clone()));
            }
        }
    }

    fn forget(&mut self, batch: &[Pending]) {
        for p in batch {
            self.0.remove(&p.tenant_id);
        }
    }

    /// Moves the requests of tenants known to be unlimited out of `batch`,
    /// each part keeping its order.
    fn take_from(&self, batch: &mut Vec<Pending>) -> Vec<Pending> {
        if self.0.is_empty() {
            return Vec::new();
        }
        batch
            .extract_if(.., |p| self.0.contains_key(&p.tenant_id))
            .collect()
    }

    /// Where `tenants` (known, in id order) stand as far as admission cares
    /// (their counters do not matter), and what the write must find still
    /// true.
    fn standing<'a>(&'a self, tenants: Vec<&'a str>) -> (Vec<Today>, Guard<'a>) {
        let mut today = Vec::with_capacity(tenants.len());
        let mut guard = Guard {
            tenants: Vec::with_capacity(tenants.len()),
            tiers: Vec::with_capacity(tenants.len()),
            time_zones: Vec::with_capacity(tenants.len()),
        };
        for (id, (tier, zone)) in tenants
            .into_iter()
            .filter_map(|id| self.0.get_key_value(id))
        {
            today.push(Today {
                tenant_id: id.clone(),
                tokens_issued: 0,
                api_calls: 0,
                tier: *tier,
                time_zone: zone.clone(),
            });
            guard.tenants.push(id);
            guard.tiers.push(tier.as_str());
            guard.time_zones.push(zone);
        }
        (today, guard)
    }
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
    tenants: HashMap<String, TenantDay>,
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
        tenants,
    })
}

impl Plan<'_> {
    /// After the commit: counts the batch (`plan`'s) in the metrics,
    /// remembers the stamps written, returns the answers.
    pub fn done(self, batch: &[Pending], stamps: &mut Stamps, now: i64) -> Vec<Admission> {
        count_by_tier(batch, &self.admissions, &self.tenants);
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
