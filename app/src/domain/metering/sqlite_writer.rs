//! The writer on a SQLite file: a thread of its own with its own rusqlite
//! connection (see [`super::writer`] for why not sqlx). SQLite has one
//! writer at a time anyway; the thread blocks on the database, never a
//! runtime worker.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::mpsc;

use super::rollups::RollupStatements;
use super::writer::{answer, gather, lock_today_sql, plan, standing, tenant_ids, Stamps, Today};
use super::{Admission, Pending};
use crate::domain::clock::SharedClock;
use crate::domain::db::SQLITE_PRAGMAS;
use crate::domain::recent_reads::RecentReads;
use crate::domain::sqlite_reader::FromSqliteRow;
use crate::domain::{Error, Result};
use crate::model::tiers::utc_day_start;

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
) {
    let spawned = std::thread::Builder::new()
        .name("usage-writer".into())
        .spawn(move || run(&path, &recent, &clock, rx));
    if let Err(e) = spawned {
        // The receiver is gone with the closure: the meter reports itself
        // stopped (readiness fails) and every request gets an error.
        tracing::error!(error = %e, "could not start the usage writer");
    }
}

fn run(path: &Path, recent: &RecentReads, clock: &SharedClock, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(super::writer::MAX_BATCH);
    let mut stamps = Stamps::default();
    // Dropped after an error: closing its connection rolls back whatever it
    // had open.
    let mut writer: Option<Writer> = None;
    let mut last_started = Instant::now();
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        if let Some(rest) = MIN_INTERVAL.checked_sub(last_started.elapsed()) {
            std::thread::sleep(rest);
        }
        gather(&mut rx, &mut batch);
        let started = Instant::now();
        last_started = started;
        let outcome = match &writer {
            Some(w) => w.commit_batch(&batch, clock.now(), &mut stamps),
            None => Writer::open(path).and_then(|w| {
                writer
                    .insert(w)
                    .commit_batch(&batch, clock.now(), &mut stamps)
            }),
        };
        if outcome.is_err() {
            writer = None;
        }
        answer(recent, &mut batch, outcome, started);
    }
}

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

    /// One batch: BEGIN IMMEDIATE takes the write lock before today's
    /// counters are read, so nothing counts between the read and the write.
    /// An error leaves the transaction open: the caller drops the writer,
    /// which rolls it back.
    fn commit_batch(
        &self,
        batch: &[Pending],
        now: i64,
        stamps: &mut Stamps,
    ) -> Result<Vec<Admission>> {
        let statement = |sql| {
            self.conn
                .prepare_cached(sql)
                .and_then(|mut s| s.execute([]))
        };
        statement("BEGIN IMMEDIATE").map_err(failed)?;
        let mut lock = self.conn.prepare_cached(&self.lock_today).map_err(failed)?;
        let today = tenant_ids(batch)
            .into_iter()
            .map(|tenant_id| lock.query_row((tenant_id, utc_day_start(now)), Today::from_sqlite))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(failed)?;
        let plan = plan(batch, standing(today, now), now, stamps)?;
        plan.rollup
            .execute_sqlite(&self.conn, &self.rollup)
            .map_err(failed)?;
        statement("COMMIT").map_err(failed)?;
        Ok(plan.done(batch, stamps, now))
    }
}

fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("writing usage: {e}"))
}
