//! Server-side sessions in the portal's own database, whichever backend it is.

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

#[async_trait]
impl SessionStore for PortalSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s, _) => s.create(record).await,
            Self::Postgres(s) => s.create(record).await,
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s, _) => s.save(record).await,
            Self::Postgres(s) => s.save(record).await,
        }
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Sqlite(_, reader) => load_now(reader, id),
            Self::Postgres(s) => s.load(id).await,
        }
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Sqlite(s, _) => s.delete(id).await,
            Self::Postgres(s) => s.delete(id).await,
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
    }
}
