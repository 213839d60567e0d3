//! Password sign-in with throttling: more than `MAX_FAILURES` failures for one
//! e-mail or one IP address within `WINDOW_SECS` refuses further attempts until
//! the oldest failure leaves the window.

use super::{members, passwords, Db, Error, Result};

pub const MAX_FAILURES: i64 = 5;
pub const WINDOW_SECS: i64 = 15 * 60;

pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub ip: &'a str,
}

/// Returns the member id on success. Every failure is recorded; the caller
/// only has to start the session.
pub async fn sign_in(db: &Db, attempt: Attempt<'_>, now: i64) -> Result<String> {
    let email = attempt.email.trim().to_lowercase();
    if email.is_empty() || attempt.password.is_empty() {
        return Err(Error::invalid("Enter your email and password."));
    }
    if let Some(retry_after_secs) = throttled_for(db, &email, attempt.ip, now).await? {
        return Err(Error::SignInThrottled { retry_after_secs });
    }
    let credentials = members::credentials(db, &email).await?;
    let (member_id, hash) = match credentials {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    if passwords::verify(attempt.password.to_owned(), hash).await {
        let member_id = member_id.expect("a verified password has a member");
        forget_failures(db, &email).await?;
        members::record_sign_in(db, &member_id, now).await?;
        Ok(member_id)
    } else {
        record_failure(db, &email, attempt.ip, now).await?;
        Err(Error::InvalidCredentials)
    }
}

/// Seconds until an attempt is allowed again, if it is not allowed now.
async fn throttled_for(db: &Db, email: &str, ip: &str, now: i64) -> Result<Option<i64>> {
    let since = now - WINDOW_SECS;
    let mut wait = None;
    for (column, value) in [("email", email), ("ip", ip)] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM sign_in_failures WHERE {column} = $1 AND at > $2"
        ))
        .bind(value)
        .bind(since)
        .fetch_one(&db.pool)
        .await?;
        if n >= MAX_FAILURES {
            // Allowed again once enough failures have aged out of the window.
            let nth_oldest: i64 = sqlx::query_scalar(&format!(
                "SELECT at FROM sign_in_failures WHERE {column} = $1 AND at > $2 \
                 ORDER BY at LIMIT 1 OFFSET $3"
            ))
            .bind(value)
            .bind(since)
            .bind(n - MAX_FAILURES)
            .fetch_one(&db.pool)
            .await?;
            let secs = (nth_oldest + WINDOW_SECS - now).max(1);
            wait = Some(wait.map_or(secs, |w: i64| w.max(secs)));
        }
    }
    Ok(wait)
}

async fn record_failure(db: &Db, email: &str, ip: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO sign_in_failures (email, ip, at) VALUES ($1, $2, $3)")
        .bind(email)
        .bind(ip)
        .bind(now)
        .execute(&db.pool)
        .await?;
    // Keep the table as small as the window needs.
    sqlx::query("DELETE FROM sign_in_failures WHERE at <= $1")
        .bind(now - WINDOW_SECS)
        .execute(&db.pool)
        .await?;
    Ok(())
}

async fn forget_failures(db: &Db, email: &str) -> Result<()> {
    sqlx::query("DELETE FROM sign_in_failures WHERE email = $1")
        .bind(email)
        .execute(&db.pool)
        .await?;
    Ok(())
}
