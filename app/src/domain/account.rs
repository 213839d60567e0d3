//! A person's own account: changing the password, signing out everywhere,
//! and resetting a forgotten password by e-mail. A person (an address) may
//! belong to several organisations, a member row each with the same
//! password: each of these applies to all of them, ends their sessions by
//! moving the session epochs on, and is recorded in each organisation's
//! audit trail.

use super::audit::{self, By};
use super::email_links::{self, NewLink, Purpose};
use super::outbox::Outbox;
use super::{emails, members, passwords, sign_in, Db, Error, Result};
use crate::model::{AuditAction, CurrentMember};

/// Reset e-mails per address, and requests per client, per throttling window.
pub const RESETS_PER_EMAIL: i64 = 3;
pub const RESETS_PER_CLIENT: i64 = 10;
/// Password changes a person may try per throttling window: each one costs
/// a password check (and a hash) from the pool sign-ins share, so a member
/// hammering this form must not starve everyone else's sign-in.
pub const PASSWORD_CHANGES: i64 = 5;

/// Ends every session of the person; returns the new epoch of `member_id`'s
/// row (for the session that asked, when it lives on).
async fn bump_epochs(conn: &mut sqlx::AnyConnection, email: &str, member_id: &str) -> Result<i64> {
    sqlx::query("UPDATE members SET session_epoch = session_epoch + 1 WHERE email = $1")
        .bind(email)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar("SELECT session_epoch FROM members WHERE id = $1")
        .bind(member_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(Error::NotFound(super::error::Thing::Member))
}

/// Records `action` in the trail of every organisation the person is in.
async fn record_everywhere(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    by: &By,
    action: AuditAction,
    now: i64,
) -> Result<()> {
    let tenants: Vec<String> = sqlx::query_scalar("SELECT tenant_id FROM members WHERE email = $1")
        .bind(email)
        .fetch_all(&mut *conn)
        .await?;
    for tenant in tenants {
        audit::record(conn, &tenant, by, action, email, "", now).await?;
    }
    Ok(())
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
    // Counted before the check, per person (the password is theirs in
    // every organisation), as sign-in counts its attempts.
    let key = format!("password-change:{}", member.email);
    sign_in::throttle(db, &key, PASSWORD_CHANGES, now).await?;
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
    members::set_password(&mut tx, &member.email, &hash).await?;
    let epoch = bump_epochs(&mut tx, &member.email, &member.member_id).await?;
    email_links::revoke_for_email(&mut tx, Purpose::Reset, &member.email, now).await?;
    let by = By::member(&member.email, client_ip);
    record_everywhere(
        &mut tx,
        &member.email,
        &by,
        AuditAction::PasswordChanged,
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
    bump_epochs(&mut tx, &member.email, &member.member_id).await?;
    let by = By::member(&member.email, client_ip);
    record_everywhere(
        &mut tx,
        &member.email,
        &by,
        AuditAction::SignedOutEverywhere,
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
    outbox: &Outbox,
    now: i64,
) -> Result<()> {
    let Some(member) = members::find_by_email(db, email).await? else {
        return Ok(());
    };
    let mut tx = db.pool.begin().await?;
    email_links::revoke_for_email(&mut tx, Purpose::Reset, &member.email, now).await?;
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
    outbox
        .enqueue(
            &mut tx,
            &emails::reset_password(&outbox.public_url, &member.email, &token),
            now,
        )
        .await?;
    let by = By::unauthenticated(client_ip);
    record_everywhere(
        &mut tx,
        &member.email,
        &by,
        AuditAction::PasswordResetRequested,
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
    // The person keeps one password in every organisation; the link also
    // proves the address.
    let changed = sqlx::query(
        "UPDATE members SET email_verified_at = COALESCE(email_verified_at, $1) WHERE email = $2",
    )
    .bind(now)
    .bind(&link.email)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(Error::invalid(
            "This reset link is for an account that no longer exists.",
        ));
    }
    members::set_password(&mut tx, &link.email, &hash).await?;
    sqlx::query("UPDATE members SET session_epoch = session_epoch + 1 WHERE email = $1")
        .bind(&link.email)
        .execute(&mut *tx)
        .await?;
    let by = By::visitor(&link.email, client_ip);
    record_everywhere(&mut tx, &link.email, &by, AuditAction::PasswordReset, now).await?;
    tx.commit().await?;
    Ok(())
}
