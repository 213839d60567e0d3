//! Synchronous short reads of a SQLite database: the lookups every signed-in
//! request makes (its session, its member) and the small lists of the
//! settings pages (a page of the audit trail, the team).
//!
//! Why not sqlx: its SQLite driver runs each connection on a worker thread
//! and hands every statement and row across threads; for a primary-key read
//! that takes microseconds, the hand-offs cost more than the read (about a
//! fifth of the server's CPU in kernel task switches under load). In WAL mode
//! a reader never waits for the writer, so the read runs on the calling
//! thread. Writes and bigger reads stay on sqlx.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Error, Result};

/// Idle connections kept: about one per thread that reads at once.
const IDLE_CONNECTIONS: usize = 8;

#[derive(Debug)]
pub struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReader {
    /// A reader of the database file at `path` (which must exist).
    pub fn new(path: &Path) -> Self {
        SqliteReader {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `read` on a read-only connection of its own while it runs.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let idle = self.idle.lock().map(|mut idle| idle.pop()).ok().flatten();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(failed)?,
        };
        let result = read(&conn).map_err(failed);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(conn);
            }
        }
        result
    }

    /// Every row of `sql` with `params`, mapped by `row`.
    pub fn all<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        self.read(|conn| conn.prepare_cached(sql)?.query_map(params, row)?.collect())
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        Ok(conn)
    }
}

/// A row as the reader maps it (sqlx maps the same row with `FromRow`).
pub trait FromSqliteRow: Sized {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self>;
}

impl<A: rusqlite::types::FromSql> FromSqliteRow for (A,) {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok((row.get(0)?,))
    }
}

impl<A, B, C> FromSqliteRow for (A, B, C)
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
{
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    }
}

/// Column `i` read as text and parsed like sqlx's `try_from = "String"`
/// columns (`Role`, `Tier`...).
pub fn parsed<T: TryFrom<String, Error = String>>(
    row: &rusqlite::Row,
    i: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(i)?;
    T::try_from(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    })
}

fn failed(e: rusqlite::Error) -> Error {
    Error::Internal(format!("database read: {e}"))
}

/// `sqlite://data/portal.db?mode=rwc` → `data/portal.db`; nothing for an
/// in-memory database or another backend's URL.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.into())
}
