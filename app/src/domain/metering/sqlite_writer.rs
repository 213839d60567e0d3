//! The writer on a SQLite file: a thread of its own with its own rusqlite
//! connection (see [`super::writer`] for why not sqlx). SQLite has one
//! writer at a time anyway; the thread blocks on the database, never a
//! runtime worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;

use super::journal::{data_version, Folded, Journal, Known, FOLD_INTERVAL};
use super::rollups::{Rollup, RollupStatements};
use super::writer::{
    answer, gather, lock_today_sql, plan, standing, tenant_ids, Plan, Stamps, Today,
};
use super::{Admission, Pending};
use crate::domain::clock::SharedClock;
use crate::domain::db::SQLITE_PRAGMAS;
use crate::domain::recent_reads::RecentReads;
use crate::domain::sqlite_reader::FromSqliteRow;
use crate::domain::{time_zones, Error, Result};
use crate::model::tiers::{utc_day_start, TierLimits};

/// Batches start at least this far apart. A commit costs about the same for
/// one request as for fifty (the WAL frames of the same few pages): unheld,
/// the thread committed batches of four under load and cost more than it
/// saved. An idle writer answers the first request at once. (In paired runs
/// of the token benchmark 500 us did best of 0, 250, 500, 1,000 and 2,000;
/// the longer ones add latency that the 64 connections wait through.)
const MIN_INTERVAL: Duration = Duration::from_micros(500);

pub(super) fn start(
    path: PathBuf,
    recent: Arc<RecentReads>,
    clock: SharedClock,
    rx: mpsc::Receiver<Pending>,
    journal: Arc<Journal>,
) {
    let spawned = std::thread::Builder::new()
        .name("usage-writer".into())
        .spawn(move || run(&path, &recent, &clock, rx, &journal));
    if let Err(e) = spawned {
        // The receiver is gone with the closure: the meter reports itself
        // stopped (readiness fails) and every request gets an error.
        tracing::error!(error = %e, "could not start the usage writer");
    }
}

fn run(
    path: &Path,
    recent: &RecentReads,
    clock: &SharedClock,
    mut rx: mpsc::Receiver<Pending>,
    journal: &Journal,
) {
    // Only for waiting on the queue with a deadline: the next fold.
    let waiting = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "could not start the usage writer");
            return;
        }
    };
    let mut batch = Vec::with_capacity(super::writer::MAX_BATCH);
    let mut stamps = Stamps::default();
    // Dropped after an error: closing its connection rolls back whatever it
    // had open.
    let mut writer: Option<Writer> = None;
    let mut last_started = Instant::now();
    let mut open = true;
    while open {
        let next = waiting.block_on(async { tokio::time::timeout(FOLD_INTERVAL, rx.recv()).await });
        match next {
            Ok(Some(first)) => {
                batch.push(first);
                if let Some(rest) = MIN_INTERVAL.checked_sub(last_started.elapsed()) {
                    std::thread::sleep(rest);
                }
                gather(&mut rx, &mut batch);
            }
            // Every sender is gone: one last fold.
            Ok(None) => open = false,
            Err(_) => {} // time to fold
        }
        if batch.is_empty() && !journal.needs_fold() {
            continue;
        }
        let started = Instant::now();
        last_started = started;
        let outcome = match writer.take().map_or_else(|| Writer::open(path), Ok) {
            Ok(w) => writer
                .insert(w)
                .commit(&batch, journal, clock.now(), &mut stamps),
            Err(e) => Err(e),
        };
        match outcome {
            Ok((admissions, folded)) => {
                if let Some(folded) = folded {
                    recent.forget_all(folded.by_agent.values().map(|a| a.tenant_id.as_str()));
                    count_folded(&folded);
                }
                if !batch.is_empty() {
                    answer(recent, &mut batch, Ok(admissions), started);
                }
            }
            Err(e) if batch.is_empty() => {
                writer = None;
                tracing::error!(error = %e, "folding the usage journal failed; it is kept");
            }
            Err(e) => {
                writer = None;
                answer(recent, &mut batch, Err(e), started);
            }
        }
    }
    journal.release();
}

/// Unlimited tenants as a batch read them.
type Learnt = Vec<(String, Known)>;

/// The writer's connection and the text of its statements, made once (the
/// statement cache is keyed by the text).
struct Writer {
    conn: Connection,
    lock_today: String,
    rollup: RollupStatements,
}

impl Writer {
    fn open(path: &Path) -> Result<Writer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed)?;
        conn.execute_batch(SQLITE_PRAGMAS).map_err(failed)?;
        // The one writer: the rollup pages every batch updates stay cached.
        conn.execute_batch("PRAGMA cache_size = -32768;")
            .map_err(failed)?;
        Ok(Writer {
            conn,
            lock_today: lock_today_sql("VALUES (?1, ?2)"),
            rollup: RollupStatements::new(),
        })
    }

    /// One transaction: the journal's pending counts (owning the journal
    /// first if it can), then `batch`. BEGIN IMMEDIATE takes the write lock
    /// before today's counters are read, so nothing counts between the read
    /// and the write, and the fold comes first, so the counters hold every
    /// request journaled before. A fold is committed (its file recycled)
    /// or put back. An error leaves the transaction open: the caller drops
    /// the writer, which rolls it back.
    fn commit(
        &self,
        batch: &[Pending],
        journal: &Journal,
        now: i64,
        stamps: &mut Stamps,
    ) -> Result<(Vec<Admission>, Option<Folded>)> {
        let statement = |sql| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
        };
        statement("BEGIN IMMEDIATE").map_err(failed)?;
        let version = data_version(&self.conn).map_err(failed)?;
        let mut folded = self.fold(journal)?;
        let committed = self
            .write_batch(batch, now, stamps)
            .and_then(|(plan, learnt)| {
                journal.commit_and_learn(
                    || statement("COMMIT").map(drop).map_err(failed),
                    version,
                    || data_version(&self.conn).ok(),
                    learnt,
                )?;
                Ok(plan)
            });
        let plan = match committed {
            Ok(plan) => plan,
            Err(e) => {
                if let Some(folded) = folded {
                    journal.put_back(folded);
                }
                return Err(e);
            }
        };
        if let Some(folded) = &mut folded {
            journal.committed(folded);
        }
        let admissions = plan.map_or_else(Vec::new, |plan| plan.done(batch, stamps, now));
        Ok((admissions, folded))
    }

    /// Writes what the journal holds, if this process owns it, and the
    /// number of its last file.
    fn fold(&self, journal: &Journal) -> Result<Option<Folded>> {
        if !journal.owned() {
            // Read under the write lock: a last owner still folding cannot
            // commit between this read and the replay.
            let applied: i64 = self
                .conn
                .prepare_cached("SELECT applied_through FROM usage_journal")
                .and_then(|mut s| s.query_row([], |row| row.get(0)))
                .map_err(failed)?;
            journal.try_own(u64::try_from(applied).unwrap_or(0));
        }
        let Some(folded) = journal.take()? else {
            return Ok(None);
        };
        let written = write_folded(&self.conn, &self.rollup, &folded).and_then(|()| {
            self.conn
                .prepare_cached("UPDATE usage_journal SET applied_through = ?1")
                .and_then(|mut s| s.execute([i64::try_from(folded.through).unwrap_or(i64::MAX)]))
                .map_err(failed)
        });
        match written {
            Ok(_) => Ok(Some(folded)),
            Err(e) => {
                journal.put_back(folded);
                Err(e)
            }
        }
    }

    /// Decides and writes `batch`; returns what to answer once committed
    /// and the batch's unlimited tenants as read.
    fn write_batch<'a>(
        &self,
        batch: &'a [Pending],
        now: i64,
        stamps: &Stamps,
    ) -> Result<(Option<Plan<'a>>, Learnt)> {
        if batch.is_empty() {
            return Ok((None, Vec::new()));
        }
        let mut lock = self.conn.prepare_cached(&self.lock_today).map_err(failed)?;
        let today = tenant_ids(batch)
            .into_iter()
            .map(|tenant_id| lock.query_row((tenant_id, utc_day_start(now)), Today::from_sqlite))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        let learnt = today
            .iter()
            .filter(|t| TierLimits::of(t.tier).has_no_daily_limit())
            .map(|t| {
                let known = Known {
                    tier: t.tier,
                    time_zone: t.time_zone.as_str().into(),
                };
                (t.tenant_id.clone(), known)
            })
            .collect();
        let plan = plan(batch, standing(today, now), now, stamps)?;
        plan.rollup
            .execute_sqlite(&self.conn, &self.rollup)
            .map_err(failed)?;
        Ok((Some(plan), learnt))
    }
}

/// Adds `folded` to the rollups on `conn`, each count on the local date of
/// the zone its tenant had when it was journaled.
pub(super) fn write_folded(
    conn: &Connection,
    statements: &RollupStatements,
    folded: &Folded,
) -> Result<()> {
    let mut zones: HashMap<&str, jiff::tz::TimeZone> = HashMap::new();
    let mut rollup = Rollup::default();
    for (agent, counts) in &folded.by_agent {
        let zone = zones
            .entry(&counts.time_zone)
            .or_insert_with(|| time_zones::stored(&counts.time_zone));
        for (at, c) in &counts.by_second {
            let date = time_zones::local_date(*at, zone);
            rollup.add(&counts.tenant_id, agent, *at, date, *c, c.tokens_issued > 0);
        }
    }
    rollup.execute_sqlite(conn, statements).map_err(failed)
}

/// The folded requests in the metrics, as a batch's are.
fn count_folded(folded: &Folded) {
    let mut counted: HashMap<(&str, &str), u64> = HashMap::new();
    for counts in folded.by_agent.values() {
        for (_, c) in &counts.by_second {
            let tier = counts.tier.as_str();
            if c.tokens_issued > 0 {
                *counted.entry(("portal_tokens_total", tier)).or_default() +=
                    c.tokens_issued as u64;
            }
            if c.api_calls > 0 {
                *counted.entry(("portal_api_calls_total", tier)).or_default() += c.api_calls as u64;
            }
        }
    }
    for ((name, tier), n) in counted {
        metrics::counter!(name, "tier" => tier, "outcome" => "admitted").increment(n);
    }
}

fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("writing usage: {e}"))
}
