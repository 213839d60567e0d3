//! Password sign-in with throttling. Every attempt is reserved *before* the
//! password is checked, with one atomic upsert per counter, so that however
//! many guesses race, at most the allowed number are ever checked. Three
//! counters, each a fixed window of `WINDOW_SECS` from its first attempt:
//!
//! - one e-mail from one client: `PER_EMAIL_AND_CLIENT` attempts (a member
//!   who mistypes, or a guesser at one account);
//! - one client, any e-mails: `PER_CLIENT` (a guesser trying many accounts);
//! - one e-mail, any clients: `PER_EMAIL`, much higher, so that strangers
//!   cannot lock a known admin out without many addresses, while a
//!   distributed guess at one account is still bounded.
//!
//! A successful sign-in gives its reservations back and clears the e-mail's
//! counter for that client.

use super::audit::{self, By};
use super::{members, passwords, Db, Error, Result};
use crate::model::AuditAction;

pub const WINDOW_SECS: i64 = 15 * 60;
pub const PER_EMAIL_AND_CLIENT: i64 = 5;
pub const PER_CLIENT: i64 = 20;
pub const PER_EMAIL: i64 = 100;

pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// The client's address.
    pub client: &'a str,
}

/// Who signed in: what the session must remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub member_id: String,
    pub session_epoch: i64,
}

/// On success the caller only has to start the session. Successes and
/// failures at a known address are in the tenant's audit trail.
pub async fn sign_in(db: &Db, attempt: Attempt<'_>, now: i64) -> Result<SignedIn> {
    let email = attempt.email.trim().to_lowercase();
    if email.is_empty() || attempt.password.is_empty() {
        return Err(Error::invalid("Enter your email and password."));
    }
    if email.len() > 254 || email.chars().any(char::is_control) {
        return Err(Error::InvalidCredentials);
    }
    let email_and_client = format!("email+client:{email} {}", attempt.client);
    let keys = [
        (format!("client:{}", attempt.client), PER_CLIENT),
        (email_and_client.clone(), PER_EMAIL_AND_CLIENT),
        (format!("email:{email}"), PER_EMAIL),
    ];
    // In this order, stopping at the first counter that is full: a client
    // already refused writes no row for each new address it tries, and
    // does not eat into the e-mail's wider budget.
    let mut reserved = Vec::with_capacity(keys.len());
    for (key, limit) in &keys {
        let (attempts, window_start) = reserve(db, key, WINDOW_SECS, now).await?;
        if attempts > *limit {
            return Err(Error::SignInThrottled {
                retry_after_secs: (window_start + WINDOW_SECS - now).max(1),
            });
        }
        reserved.push(key.as_str());
    }
    let credentials = members::credentials(db, &email).await?;
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let verified = passwords::verify(attempt.password.to_owned(), hash).await;
    let by = By::unauthenticated(attempt.client);
    let member = match (verified, credentials) {
        (Ok(true), Some(member)) => member,
        // Overloaded: not a guess that failed, so not counted as one.
        (Err(e), _) => {
            give_back(db, &reserved).await?;
            return Err(e);
        }
        (_, Some(member)) => {
            let mut conn = db.pool.acquire().await?;
            audit::record(
                &mut conn,
                &member.tenant_id,
                &by,
                AuditAction::SignInFailed,
                &email,
                "wrong password",
                now,
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
        _ => return Err(Error::InvalidCredentials),
    };
    give_back(db, &reserved).await?;
    sqlx::query("DELETE FROM sign_in_counters WHERE key = $1")
        .bind(&email_and_client)
        .execute(&db.pool)
        .await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE members SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&member.id)
        .execute(&mut *tx)
        .await?;
    let by = By::member(&email, attempt.client);
    audit::record(
        &mut tx,
        &member.tenant_id,
        &by,
        AuditAction::SignedIn,
        &email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(SignedIn {
        member_id: member.id,
        session_epoch: member.session_epoch,
    })
}

/// Counts one request under `key` (e.g. `signup:{client}`) and refuses it
/// once more than `limit` were made in the window: the same atomic counters
/// as sign-in, for other things worth throttling.
pub(crate) async fn throttle(db: &Db, key: &str, limit: i64, now: i64) -> Result<()> {
    throttle_within(db, key, limit, WINDOW_SECS, now).await
}

/// [`throttle`] with a window of `window` seconds.
pub(crate) async fn throttle_within(
    db: &Db,
    key: &str,
    limit: i64,
    window: i64,
    now: i64,
) -> Result<()> {
    let (attempts, window_start) = reserve(db, key, window, now).await?;
    if attempts > limit {
        return Err(Error::Throttled {
            retry_after_secs: (window_start + window - now).max(1),
        });
    }
    Ok(())
}

/// Counts one attempt under `key`; returns the attempts in its window
/// (this one included) and when the window started.
pub(crate) async fn reserve(db: &Db, key: &str, window: i64, now: i64) -> Result<(i64, i64)> {
    // fetch_all, not fetch_one: SQLite commits an autocommit
    // `INSERT ... RETURNING` only once the statement has run to its end, and
    // a statement left after its first row would keep the write lock.
    let counted: Vec<(i64, i64)> = sqlx::query_as(
        "INSERT INTO sign_in_counters (key, window_start, attempts) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           attempts = CASE WHEN sign_in_counters.window_start <= $3 THEN 1 \
                      ELSE sign_in_counters.attempts + 1 END, \
           window_start = CASE WHEN sign_in_counters.window_start <= $3 THEN $2 \
                          ELSE sign_in_counters.window_start END \
         RETURNING attempts, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - window)
    .fetch_all(&db.pool)
    .await?;
    let counted = counted
        .first()
        .copied()
        .ok_or_else(|| Error::Internal("the attempt was not counted".into()))?;
    // Keep the table as small as the window needs (now and then).
    if rand::random::<u8>() < 4 {
        sqlx::query("DELETE FROM sign_in_counters WHERE window_start <= $1")
            .bind(now - WINDOW_SECS)
            .execute(&db.pool)
            .await?;
    }
    Ok(counted)
}

async fn give_back(db: &Db, keys: &[&str]) -> Result<()> {
    for key in keys {
        sqlx::query(
            "UPDATE sign_in_counters SET attempts = attempts - 1 WHERE key = $1 AND attempts > 0",
        )
        .bind(*key)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}
