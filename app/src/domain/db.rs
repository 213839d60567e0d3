//! The connection pool for both backends. Queries use `$n` placeholders and
//! portable SQL so one statement serves SQLite and PostgreSQL alike.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

use super::sqlite_reader::{sqlite_path, FromSqliteRow, SqliteReader};
use super::Result;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The backend a DATABASE_URL names, or why the portal cannot use it.
    pub fn of_database_url(url: &str) -> std::result::Result<Self, String> {
        match Backend::from_url(url) {
            None => Err(format!(
                "DATABASE_URL {url:?} is neither sqlite://PATH nor postgres://..."
            )),
            // The usage writer and the fast readers open the file themselves.
            Some(Backend::Sqlite) if sqlite_path(url).is_none() => Err(format!(
                "DATABASE_URL {url:?} names no file: SQLite needs sqlite://PATH \
                 (an in-memory database would lose everything at exit)"
            )),
            Some(backend) => Ok(backend),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// This second's reads of busy views; writes through `Db` forget them.
    pub recent: std::sync::Arc<super::recent_reads::RecentReads>,
    /// On SQLite, the synchronous reader for the lookups of every request
    /// (see [`Db::read_all`]).
    pub reader: Option<std::sync::Arc<SqliteReader>>,
}

/// Set on every SQLite connection that writes: the pool's and the usage
/// writer's. WAL lets readers run beside the writer; NORMAL sync in WAL mode
/// still survives a killed process. SQLite's default page cache (2 MB) and
/// no memory-mapped reads: each connection keeps a cache and a map of its
/// own, so eight connections that read the same rollups held them eight
/// times over (a 7.6 MB database counted 44 MB of the server's resident
/// set), while the pages a cache misses come from the kernel's file cache
/// and the big reads run about once a second (`recent_reads`).
pub const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// A value bound to a query, for either driver.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Bind::Text(text) => text.to_sql(),
            Bind::Int(int) => int.to_sql(),
        }
    }
}

/// `sql` with `binds`, through sqlx.
pub fn query_as_with<'q, T>(
    sql: &'q str,
    binds: &[Bind<'q>],
) -> sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments<'q>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    binds
        .iter()
        .fold(sqlx::query_as(sql), |query, bind| match *bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(int) => query.bind(int),
        })
}

impl Db {
    /// Connects (creating a SQLite file and its folder if needed) and applies
    /// the migrations of the backend.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        sqlite_without_memory_statistics();
        let backend = Backend::of_database_url(url).map_err(super::Error::invalid)?;
        let url = match backend {
            Backend::Sqlite => sqlite_url_creating_file(url)?,
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            // A SQLite connection is a local file handle that cannot drop
            // out: no liveness round trip on every checkout.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let db = Db {
            pool,
            backend,
            recent: Default::default(),
            reader: sqlite_path(&url).map(|path| std::sync::Arc::new(SqliteReader::new(&path))),
        };
        db.migrate().await?;
        Ok(db)
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Whether every migration this build knows has been applied.
    pub async fn migrations_applied(&self) -> Result<bool> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        Ok(applied as usize >= self.migrator().iter().count())
    }

    /// A consistent copy of the SQLite database at `path`, taken while the
    /// portal serves (`VACUUM INTO` reads one snapshot), with the usage
    /// journaled and not yet folded added. PostgreSQL has `pg_dump` for
    /// this.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        if self.backend != Backend::Sqlite {
            return Err(super::Error::invalid(
                "backups of PostgreSQL are pg_dump's job: pg_dump --format=custom \"$DATABASE_URL\"",
            ));
        }
        if path.exists() {
            return Err(super::Error::invalid(format!(
                "{} exists already: name a new file",
                path.display()
            )));
        }
        // Kept before the copy is taken: see `KeptForBackup`.
        let journal = match &self.reader {
            Some(reader) => Some(super::metering::KeptForBackup::keep(reader.path())?),
            None => None,
        };
        // Created empty and owner-only before SQLite writes a byte into it
        // (it fills an empty file): a copy of the database signs keys and
        // carries every tenant's data, so no other user may read it, not
        // even while it is being written.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| {
                    super::Error::invalid(format!("cannot create {}: {e}", path.display()))
                })?;
        }
        let target = path.to_string_lossy().replace('\'', "''");
        let copied = sqlx::query(&format!("VACUUM INTO '{target}'"))
            .execute(&self.pool)
            .await;
        if let Err(e) = copied {
            let _ = std::fs::remove_file(path);
            return Err(e.into());
        }
        if let Some(journal) = journal {
            let copy = path.to_owned();
            tokio::task::spawn_blocking(move || journal.add_to(&copy))
                .await
                .map_err(|e| super::Error::Internal(format!("backup: {e}")))??;
        }
        Ok(())
    }

    /// The database's own consistency check (SQLite's `integrity_check`;
    /// on PostgreSQL a round trip) plus the migrations: `Ok(problems)`.
    pub async fn check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        if self.backend == Backend::Sqlite {
            let found: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&self.pool)
                .await?;
            problems.extend(found.into_iter().filter(|line| line != "ok"));
        } else {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
        }
        if !self.migrations_applied().await? {
            problems.push("migrations are missing".into());
        }
        Ok(problems)
    }

    /// Every row of a short read (a lookup, a page of a list). On SQLite it
    /// runs on the calling thread (`SqliteReader`: sqlx's driver would hand
    /// each statement and row across threads, which costs more than such a
    /// read); on PostgreSQL through the pool. Long reads use the pool.
    pub async fn read_all<T>(&self, sql: &str, binds: &[Bind<'_>]) -> Result<Vec<T>>
    where
        T: FromSqliteRow + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        match &self.reader {
            Some(reader) => reader.all(sql, rusqlite::params_from_iter(binds), T::from_sqlite),
            None => Ok(query_as_with(sql, binds).fetch_all(&self.pool).await?),
        }
    }

    /// The first row of a short read (see [`Db::read_all`]), if any.
    pub async fn read_optional<T>(&self, sql: &str, binds: &[Bind<'_>]) -> Result<Option<T>>
    where
        T: FromSqliteRow + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        Ok(self.read_all(sql, binds).await?.into_iter().next())
    }

    async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }
}

/// SQLite counts every allocation under one process-wide mutex for
/// statistics nobody here reads: its allocator showed as a few percent of the
/// CPU under load, much of it that mutex. Switched off once, before SQLite
/// starts (afterwards the call is refused and changes nothing).
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a documented start-up option, set before any connection
        // opens; SQLite refuses it (SQLITE_MISUSE) rather than misbehave
        // if it has already started.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

/// The database holds tenants' data and the sealed server keys: readable by
/// its owner only. SQLite gives its `-wal` and `-shm` files the database
/// file's mode; files an earlier version created are narrowed too.
///
/// An existing file is never opened here: closing a descriptor of it would
/// release every POSIX lock this process holds on it, the locks of its
/// open SQLite connections included (the session store connects after the
/// portal's pool). Another process (the CLI) would then checkpoint and
/// remove the WAL the serving portal still writes to: a corrupt database.
fn owner_only(path: &str) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |e: std::io::Error| super::Error::invalid(format!("cannot secure {path}: {e}"));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(failed(e)),
    }
    for file in [
        path.to_owned(),
        format!("{path}-wal"),
        format!("{path}-shm"),
    ] {
        if std::path::Path::new(&file).exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
    }
    Ok(())
}

/// `sqlite://data/portal.db` → make sure `data/` exists and ask for the file
/// to be created (`mode=rwc`) unless the URL chose a mode itself.
pub fn sqlite_url_creating_file(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or_default();
    let path = rest.split('?').next().unwrap_or_default();
    if !path.is_empty() && path != ":memory:" {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|e| {
                    super::Error::invalid(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
        }
        owner_only(path)?;
    }
    Ok(if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    })
}
