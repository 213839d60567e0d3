//! Outgoing mail. A message is written here on the transaction of what
//! caused it ([`Outbox::enqueue`]), so it exists exactly when that change
//! does, and survives restarts; the server's delivery task sends it. Each
//! attempt first *claims* the row for a while, atomically, so two instances
//! never send one row at once; a sent row is never picked again.
//!
//! A body waiting here may hold a single-use link, so it is sealed with a
//! key derived from the server's keys (themselves sealed with the master
//! key): a copy of the database, a backup, opens no link in it.

use sqlx::{AnyConnection, FromRow};

use super::keys::{self, ServerKeys};
use super::{Db, Result};

/// Where mail is queued: the portal's address for the links in it, and the
/// key its bodies are sealed with.
#[derive(Clone)]
pub struct Outbox {
    pub public_url: String,
    body_key: [u8; 32],
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// A message to send: both parts are always present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A message as the delivery task sees it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Queued {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
    /// 1: queued before bodies were sealed (the upgrade marked it).
    pub queued_in_clear: i64,
}

/// Attempts before a message is given up on (about a day of backoff).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long one attempt may hold its claim.
pub const CLAIM_SECS: i64 = 120;

/// Seconds to wait after failed attempt number `attempts` (1, 2, ...):
/// 30 s doubling, at most 4 h.
pub fn backoff_secs(attempts: i64) -> i64 {
    (30_i64 << (attempts - 1).clamp(0, 9)).min(4 * 3600)
}

impl Outbox {
    pub fn new(public_url: impl Into<String>, keys: &ServerKeys) -> Outbox {
        Outbox {
            public_url: public_url.into(),
            body_key: keys.mail_body_key(),
        }
    }

    /// Queues `message` on the caller's transaction, its bodies sealed.
    pub async fn enqueue(
        &self,
        conn: &mut AnyConnection,
        message: &Message,
        now: i64,
    ) -> Result<()> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, text_body, html_body, created_at, \
             next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&id)
        .bind(&message.to)
        .bind(&message.subject)
        .bind(keys::seal(
            &self.body_key,
            &bound_to(&id, &message.to, &message.subject, "text"),
            message.text.as_bytes(),
        )?)
        .bind(keys::seal(
            &self.body_key,
            &bound_to(&id, &message.to, &message.subject, "html"),
            message.html.as_bytes(),
        )?)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Claims up to `limit` due messages for this attempt, in the order
    /// they fell due, their bodies opened; the rows returned are this
    /// caller's until `now + CLAIM_SECS`. One that does not open (not
    /// sealed with this portal's keys) is given up on at once.
    pub async fn claim_due(&self, db: &Db, now: i64, limit: i64) -> Result<Vec<Queued>> {
        let mut opened = Vec::new();
        for mut m in claim_due(db, now, limit).await? {
            match (
                self.open(&m, "text", &m.text_body),
                self.open(&m, "html", &m.html_body),
            ) {
                (Some(text), Some(html)) => {
                    m.text_body = text;
                    m.html_body = html;
                    opened.push(m);
                }
                _ => {
                    let error = "its body does not open with this portal's keys";
                    tracing::error!(outbox_id = %m.id, "gave up a message: {error}");
                    let m = Queued {
                        attempts: MAX_ATTEMPTS,
                        ..m
                    };
                    mark_failed(db, &m, error, now).await?;
                }
            }
        }
        Ok(opened)
    }

    fn open(&self, m: &Queued, part: &str, stored: &str) -> Option<String> {
        // Queued in the clear before bodies were sealed (marked so by the
        // upgrade): sent as it is. Any other body in the clear was not
        // written by a portal.
        if m.queued_in_clear == 1 {
            return Some(stored.to_owned());
        }
        let aad = bound_to(&m.id, &m.recipient, &m.subject, part);
        keys::open(&self.body_key, &aad, stored).and_then(|body| String::from_utf8(body).ok())
    }
}

/// What a sealed body is bound to: its row, recipient and subject, so that
/// whoever can write to the database cannot redirect a link to themselves.
fn bound_to(id: &str, to: &str, subject: &str, part: &str) -> String {
    // Lengths first: no two different tuples give the same text.
    format!(
        "{}:{id}:{}:{to}:{}:{subject}:{part}",
        id.len(),
        to.len(),
        subject.len()
    )
}

/// A claimed row, with what orders the batch.
#[derive(FromRow)]
struct Claimed {
    #[sqlx(flatten)]
    message: Queued,
    next_attempt_at: i64,
    created_at: i64,
}

/// [`Outbox::claim_due`], the bodies as stored.
async fn claim_due(db: &Db, now: i64, limit: i64) -> Result<Vec<Queued>> {
    // One statement: the outer condition repeats the inner one, so of two
    // instances racing for a row (PostgreSQL re-checks it once the other's
    // claim commits; SQLite has one writer) only one claims it.
    let mut claimed: Vec<Claimed> = sqlx::query_as(
        "UPDATE mail_outbox SET claimed_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $2 AND (claimed_until IS NULL OR claimed_until < $2) \
         ORDER BY next_attempt_at, created_at LIMIT $3) \
         AND sent_at IS NULL AND failed_at IS NULL \
         AND (claimed_until IS NULL OR claimed_until < $2) \
         RETURNING id, recipient, subject, text_body, html_body, attempts, queued_in_clear, \
         next_attempt_at, created_at",
    )
    .bind(now + CLAIM_SECS)
    .bind(now)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    // RETURNING follows no ORDER BY (SQLite's came out in row order).
    claimed.sort_by_key(|c| (c.next_attempt_at, c.created_at));
    Ok(claimed.into_iter().map(|c| c.message).collect())
}

/// A sent message keeps its recipient and subject only: its body holds a
/// link that must not stay readable in the database (or its backups).
pub async fn mark_sent(db: &Db, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET sent_at = $1, claimed_until = NULL, last_error = NULL, \
         text_body = '', html_body = '' WHERE id = $2",
    )
    .bind(now)
    .bind(id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried after the backoff, or given up after
/// [`MAX_ATTEMPTS`]. Returns whether it was given up.
pub async fn mark_failed(db: &Db, message: &Queued, error: &str, now: i64) -> Result<bool> {
    let give_up = message.attempts >= MAX_ATTEMPTS;
    let error: String = error.chars().take(500).collect();
    sqlx::query(
        "UPDATE mail_outbox SET claimed_until = NULL, last_error = $1, next_attempt_at = $2, \
         failed_at = $3 WHERE id = $4",
    )
    .bind(error)
    .bind(now + backoff_secs(message.attempts))
    .bind(give_up.then_some(now))
    .bind(&message.id)
    .execute(&db.pool)
    .await?;
    Ok(give_up)
}

/// What operators see in `portal mail status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub pending: i64,
    /// Pending messages that have failed at least once. Not those on their
    /// first attempt: claiming counts the attempt before it has failed.
    pub retrying: i64,
    pub sent: i64,
    pub failed: i64,
    /// The newest failures: (recipient, attempts, error, when).
    pub recent_failures: Vec<(String, i64, String, i64)>,
}

pub async fn status(db: &Db) -> Result<Status> {
    let (pending, retrying, sent, failed): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT \
           COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
           COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
         FROM mail_outbox",
    )
    .fetch_one(&db.pool)
    .await?;
    let recent_failures = sqlx::query_as(
        "SELECT recipient, attempts, last_error, COALESCE(failed_at, next_attempt_at) FROM mail_outbox \
         WHERE sent_at IS NULL AND last_error IS NOT NULL ORDER BY created_at DESC LIMIT 10",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(Status {
        pending,
        retrying,
        sent,
        failed,
        recent_failures,
    })
}

/// Sent messages are kept a week (for `mail status`), then deleted: they
/// hold links that must not outlive their use.
pub async fn prune_sent(db: &Db, now: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM mail_outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
            .bind(now - 7 * 86_400)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_up_to_four_hours() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 60);
        assert_eq!(backoff_secs(5), 480);
        assert_eq!(backoff_secs(12), 4 * 3600);
    }
}
