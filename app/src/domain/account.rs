//! A member's own account: changing the password, signing out everywhere,
//! and resetting a forgotten password by e-mail. Each ends the member's
//! other sessions by moving the session epoch on.

use super::audit::{self, By};
use super::email_links::{self, NewLink, Purpose};
use super::{emails, members, outbox, passwords, sign_in, Db, Error, Result};
use crate::model::{AuditAction, CurrentMember};

/// Reset e-mails per address, and requests per client, per throttling window.
pub const RESETS_PER_EMAIL: i64 = 3;
pub const RESETS_PER_CLIENT: i64 = 10;

async fn bump_epoch(conn: &mut sqlx::AnyConnection, member_id: &str) -> Result<i64> {
    let epochs: Vec<i64> = sqlx::query_scalar(
        "UPDATE members SET session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch",
    )
    .bind(member_id)
    .fetch_all(conn)
    .await?;
    epochs
        .into_iter()
        .next()
        .ok_or(Error::NotFound(super::error::Thing::Member))
}

/// Changes the password (the current one is required) and ends every other
/// session. Returns the new session epoch, for the session that asked.
pub async fn change_password(
    db: &Db,
    member: &CurrentMember,
    current: &str,
    new: &str,
    client_ip: &str,
    now: i64,
) -> Result<i64> {
    let stored = members::credentials_by_id(db, &member.member_id)
        .await?
        .map(|c| c.password_hash);
    if !passwords::verify(current.to_owned(), stored).await? {
        return Err(Error::invalid_field(
            "current_password",
            "The current password is not right.",
        ));
    }
    if current == new {
        return Err(Error::invalid_field(
            "password",
            "The new password is the same as the current one.",
        ));
    }
    passwords::check_new(new, &[&member.email, &member.tenant_name])?;
    let hash = passwords::hash(new.to_owned()).await?;
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE members SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(&member.member_id)
        .execute(&mut *tx)
        .await?;
    let epoch = bump_epoch(&mut tx, &member.member_id).await?;
    email_links::revoke_for_member(&mut tx, Purpose::Reset, &member.member_id, now).await?;
    let by = By::member(&member.email, client_ip);
    audit::record(
        &mut tx,
        &member.tenant_id,
        &by,
        AuditAction::PasswordChanged,
        &member.email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(epoch)
}

/// Ends every session of the member, this one included.
pub async fn sign_out_everywhere(
    db: &Db,
    member: &CurrentMember,
    client_ip: &str,
    now: i64,
) -> Result<()> {
    let mut tx = db.pool.begin().await?;
    bump_epoch(&mut tx, &member.member_id).await?;
    let by = By::member(&member.email, client_ip);
    audit::record(
        &mut tx,
        &member.tenant_id,
        &by,
        AuditAction::SignedOutEverywhere,
        &member.email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Checks the throttles of a reset request: call it before answering, the
/// same way for every address.
pub async fn admit_reset_request(
    db: &Db,
    email: &str,
    client_ip: &str,
    now: i64,
) -> Result<String> {
    let email = members::normalize_email(email)
        .map_err(|_| Error::invalid_field("email", "Enter a valid e-mail address."))?;
    sign_in::throttle(
        db,
        &format!("reset-client:{client_ip}"),
        RESETS_PER_CLIENT,
        now,
    )
    .await?;
    sign_in::throttle(db, &format!("reset-email:{email}"), RESETS_PER_EMAIL, now).await?;
    Ok(email)
}

/// Sends a reset link if the address has an account; does nothing
/// otherwise. Meant to run after the answer went out (its duration must
/// not tell which case it was).
pub async fn send_reset_link(
    db: &Db,
    email: &str,
    client_ip: &str,
    public_url: &str,
    now: i64,
) -> Result<()> {
    let Some(member) = members::find_by_email(db, email).await? else {
        return Ok(());
    };
    let mut tx = db.pool.begin().await?;
    email_links::revoke_for_member(&mut tx, Purpose::Reset, &member.id, now).await?;
    let token = email_links::issue(
        &mut tx,
        NewLink {
            purpose: Purpose::Reset,
            tenant_id: &member.tenant_id,
            member_id: Some(&member.id),
            email: &member.email,
            role: None,
            created_by: &member.email,
        },
        now,
    )
    .await?;
    outbox::enqueue(
        &mut tx,
        &emails::reset_password(public_url, &member.email, &token),
        now,
    )
    .await?;
    let by = By::visitor(&member.email, client_ip);
    audit::record(
        &mut tx,
        &member.tenant_id,
        &by,
        AuditAction::PasswordResetRequested,
        &member.email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The address a reset link is for, if it is still usable (for its page).
pub async fn reset_link_email(db: &Db, token: &str, now: i64) -> Result<String> {
    Ok(email_links::peek(db, Purpose::Reset, token, now)
        .await?
        .email)
}

/// Sets a new password through a reset link; every session ends. The link
/// also proves the address.
pub async fn reset_password(
    db: &Db,
    token: &str,
    new: &str,
    client_ip: &str,
    now: i64,
) -> Result<()> {
    let email = reset_link_email(db, token, now).await?;
    passwords::check_new(new, &[&email])?;
    let hash = passwords::hash(new.to_owned()).await?;
    let mut tx = db.pool.begin().await?;
    let link = email_links::redeem(&mut tx, Purpose::Reset, token, now).await?;
    let member_id = link.member_id.unwrap_or_default();
    let changed = sqlx::query(
        "UPDATE members SET password_hash = $1, email_verified_at = COALESCE(email_verified_at, $2) \
         WHERE id = $3 AND email = $4",
    )
    .bind(&hash)
    .bind(now)
    .bind(&member_id)
    .bind(&link.email)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::invalid(
            "This reset link is for an account that no longer exists.",
        ));
    }
    bump_epoch(&mut tx, &member_id).await?;
    let by = By::visitor(&link.email, client_ip);
    audit::record(
        &mut tx,
        &link.tenant_id,
        &by,
        AuditAction::PasswordReset,
        &link.email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
