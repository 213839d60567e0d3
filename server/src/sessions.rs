//! Server-side sessions in the portal's own database, whichever backend it is.

use std::cell::Cell;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use app::domain::db::{sqlite_url_creating_file, Backend, Db};
use app::domain::sqlite_reader::SqliteReader;

use crate::config::Config;

/// Key under which the session keeps the signed-in member's id.
pub const MEMBER_ID: &str = "member_id";
/// The member's session epoch when the session started: moving the
/// member's epoch on ends every session started before.
pub const SESSION_EPOCH: &str = "session_epoch";
/// When the session last served a request (unix seconds, the portal's clock).
pub const LAST_SEEN: &str = "last_seen";
/// When the person signed in with their password (unix seconds): a session
/// ends [`MAX_AGE_SECS`] after it, however busy it was.
pub const SIGNED_IN_AT: &str = "signed_in_at";
/// The absolute lifetime of a session: 30 days.
pub const MAX_AGE_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Clone)]
pub enum PortalSessionStore {
    /// Loads read synchronously (see `SqliteReader`), everything else is sqlx's.
    Sqlite(SqliteStore, Arc<SqliteReader>),
    Postgres(PostgresStore),
}

impl PortalSessionStore {
    /// On SQLite the store loads through the portal's own `db.reader`.
    pub async fn connect(db: &Db, database_url: &str) -> anyhow::Result<Self> {
        let store = match Backend::from_url(database_url) {
            Some(Backend::Sqlite) => {
                let options =
                    SqliteConnectOptions::from_str(&sqlite_url_creating_file(database_url)?)?
                        .journal_mode(SqliteJournalMode::Wal)
                        .busy_timeout(Duration::from_secs(10));
                // As the portal's pool: a local file needs no liveness ping,
                // which would cost each session read a second thread hand-off.
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?;
                let store = SqliteStore::new(pool);
                store.migrate().await?;
                let reader = db
                    .reader
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("sessions need a SQLite file, not memory"))?;
                Self::Sqlite(store, reader)
            }
            Some(Backend::Postgres) => {
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .connect(database_url)
                    .await?;
                let store = PostgresStore::new(pool);
                store.migrate().await?;
                Self::Postgres(store)
            }
            None => anyhow::bail!("unsupported DATABASE_URL {database_url:?}"),
        };
        Ok(store)
    }

    pub fn layer(self, config: &Config) -> SessionManagerLayer<Self> {
        SessionManagerLayer::new(self)
            .with_name("portal_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(config.session_secure())
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
                config.session_idle_minutes.into(),
            )))
    }

    /// Removes expired sessions every `period`, for as long as the server runs.
    pub fn spawn_expiry_sweeper(self, period: Duration) {
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            loop {
                interval.tick().await;
                if let Err(e) = self.delete_expired().await {
                    tracing::warn!(error = %e, "could not delete expired sessions");
                }
            }
        });
    }
}

/// What the table keeps in place of a session id: its SHA-256, cut to the
/// id's 128 bits. The cookie holds the id; a copy of the database (a backup,
/// a leaked dump) holds only hashes, which sign nobody in. The ids are 128
/// random bits, so a plain hash is enough: there is nothing to guess.
fn stored_id(id: &Id) -> Id {
    use sha2::{Digest, Sha256};
    thread_local! {
        /// The last id this thread hashed and its hash: a request loads its
        /// session and saves it again on the same thread, and its second
        /// SHA-256 becomes a comparison.
        static LAST: Cell<Option<(i128, i128)>> = const { Cell::new(None) };
    }
    if let Some((cookie, hashed)) = LAST.get() {
        if cookie == id.0 {
            return Id(hashed);
        }
    }
    let digest = Sha256::digest(id.0.to_le_bytes());
    let mut half = [0u8; 16];
    half.copy_from_slice(&digest[..16]);
    let hashed = i128::from_le_bytes(half);
    LAST.set(Some((id.0, hashed)));
    Id(hashed)
}

fn stored(record: &Record) -> Record {
    Record {
        id: stored_id(&record.id),
        ..record.clone()
    }
}

#[async_trait]
impl SessionStore for PortalSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The stores' own `create` picks a new id on a collision, which
        // here would be the hash's: pick the cookie's id anew instead.
        while self.load(&record.id).await?.is_some() {
            record.id = Id::default();
        }
        self.save(record).await
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let record = stored(record);
        match self {
            Self::Sqlite(s, _) => s.save(&record).await,
            Self::Postgres(s) => s.save(&record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let hashed = stored_id(id);
        let record = match self {
            Self::Sqlite(_, reader) => load_now(reader, &hashed)?,
            Self::Postgres(s) => s.load(&hashed).await?,
        };
        Ok(record.map(|r| Record { id: *id, ..r }))
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let hashed = stored_id(id);
        match self {
            Self::Sqlite(s, _) => s.delete(&hashed).await,
            Self::Postgres(s) => s.delete(&hashed).await,
        }
    }
}

#[async_trait]
impl ExpiredDeletion for PortalSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s, _) => s.delete_expired().await,
            Self::Postgres(s) => s.delete_expired().await,
        }
    }
}

/// `SqliteStore::load` without sqlx's thread hand-offs: the same row, the
/// same expiry rule, the same encoding.
fn load_now(reader: &SqliteReader, id: &Id) -> session_store::Result<Option<Record>> {
    use rusqlite::OptionalExtension;
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let data = reader
        .read(|conn| {
            conn.prepare_cached(
                "SELECT data FROM tower_sessions WHERE id = ?1 AND expiry_date > ?2",
            )?
            .query_row([id.to_string(), now], |row| row.get::<_, Vec<u8>>(0))
            .optional()
        })
        .map_err(|e| session_store::Error::Backend(e.to_string()))?;
    data.map(|data| rmp_serde::from_slice(&data))
        .transpose()
        .map_err(|e| session_store::Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The synchronous load reads what sqlx's store wrote, and keeps its
    /// expiry rule: a session past its expiry is gone.
    #[tokio::test]
    async fn sessions_load_as_the_sqlx_store_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sessions.db", dir.path().display());
        let db = Db::connect(&url).await.unwrap();
        let store = PortalSessionStore::connect(&db, &url).await.unwrap();
        let record = |minutes: i64| Record {
            id: Id::default(),
            data: [("member_id".to_owned(), serde_json::json!("m-1"))].into(),
            expiry_date: time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes),
        };
        let mut live = record(30);
        store.create(&mut live).await.unwrap();
        let loaded = store
            .load(&live.id)
            .await
            .unwrap()
            .expect("a live session loads");
        assert_eq!(loaded.data, live.data);
        assert_eq!(loaded.expiry_date, live.expiry_date);

        let mut expired = record(-1);
        store.create(&mut expired).await.unwrap();
        assert!(store.load(&expired.id).await.unwrap().is_none());
        assert!(store.load(&Id::default()).await.unwrap().is_none());

        // The table holds no id a cookie could carry.
        let kept: Vec<String> = sqlx::query_scalar("SELECT id FROM tower_sessions")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(kept.len(), 2);
        assert!(!kept.contains(&live.id.to_string()));
        assert!(store
            .load(&kept[0].parse().unwrap())
            .await
            .unwrap()
            .is_none());
    }
}
