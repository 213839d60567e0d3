//! Sign-up and e-mail verification. A sign-up creates a free tenant with
//! its person as owner; the tenant can be looked at at once, and changed
//! once the address is proven by the e-mailed link.
//!
//! The answer never tells whether an address already has an account: a
//! duplicate gets the same answer (after the same password hashing), and
//! the address's owner gets a message saying someone tried.

use super::audit::{self, By};
use super::email_links::{self, NewLink, Purpose};
use super::tenants::{self, NewTenant};
use super::{emails, members, outbox, passwords, sign_in, Db, Error, Result};
use crate::model::{AuditAction, CurrentMember, Role};

/// Sign-ups one client may make per throttling window.
pub const PER_CLIENT: i64 = 5;
/// Seconds between two verification e-mails for one member.
pub const RESEND_AFTER_SECS: i64 = 60;

pub struct SignUp<'a> {
    pub organisation: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub client_ip: &'a str,
}

pub async fn sign_up(db: &Db, s: SignUp<'_>, public_url: &str, now: i64) -> Result<()> {
    sign_in::throttle(db, &format!("signup:{}", s.client_ip), PER_CLIENT, now).await?;
    let organisation = tenants::parse_name(s.organisation)?;
    let email = members::normalize_email(s.email)
        .map_err(|_| Error::invalid_field("email", "Enter a valid e-mail address."))?;
    passwords::check_new(s.password, &[&email, &organisation])?;
    // Hashed whether or not the address is taken: both answers take as long.
    let hash = passwords::hash(s.password.to_owned()).await?;
    let taken = members::find_by_email(db, &email).await?.is_some();
    let mut tx = db.pool.begin().await?;
    if taken {
        let message = emails::sign_up_with_existing_address(public_url, &email);
        outbox::enqueue(&mut tx, &message, now).await?;
        tx.commit().await?;
        return Ok(());
    }
    let tenant = tenants::insert(&mut tx, NewTenant::named(organisation), now).await?;
    let inserted =
        members::insert(&mut tx, &tenant.id, &email, Role::Owner, &hash, None, now).await;
    let member = match inserted {
        Ok(member) => member,
        // Taken a moment ago by a racing sign-up: the same quiet answer.
        Err(Error::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let by = By::visitor(&email, s.client_ip);
    audit::record(
        &mut tx,
        &tenant.id,
        &by,
        AuditAction::SignedUp,
        &tenant.name,
        "free",
        now,
    )
    .await?;
    send_verification(
        &mut tx,
        &member.id,
        &tenant.id,
        &tenant.name,
        &email,
        public_url,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn send_verification(
    conn: &mut sqlx::AnyConnection,
    member_id: &str,
    tenant_id: &str,
    tenant_name: &str,
    email: &str,
    public_url: &str,
    now: i64,
) -> Result<()> {
    email_links::revoke_for_member(conn, Purpose::Verify, member_id, now).await?;
    let token = email_links::issue(
        conn,
        NewLink {
            purpose: Purpose::Verify,
            tenant_id,
            member_id: Some(member_id),
            email,
            role: None,
            created_by: email,
        },
        now,
    )
    .await?;
    let message = emails::verify_email(public_url, email, tenant_name, &token);
    outbox::enqueue(conn, &message, now).await
}

/// A new verification e-mail (the old link stops working), at most one per
/// [`RESEND_AFTER_SECS`].
pub async fn resend_verification(
    db: &Db,
    member: &CurrentMember,
    public_url: &str,
    now: i64,
) -> Result<()> {
    if member.is_verified() {
        return Err(Error::invalid("Your address is already verified."));
    }
    let last = email_links::last_issued(db, Purpose::Verify, &member.member_id).await?;
    if let Some(wait) = last
        .map(|at| at + RESEND_AFTER_SECS - now)
        .filter(|w| *w > 0)
    {
        return Err(Error::invalid(format!(
            "We sent a link less than a minute ago; ask again in {wait} s. Check your spam folder too."
        )));
    }
    let mut tx = db.pool.begin().await?;
    send_verification(
        &mut tx,
        &member.member_id,
        &member.tenant_id,
        &member.tenant_name,
        &member.email,
        public_url,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Uses a verification link: the member's address is proven.
pub async fn verify_email(db: &Db, token: &str, client_ip: &str, now: i64) -> Result<()> {
    let mut tx = db.pool.begin().await?;
    let link = email_links::redeem(&mut tx, Purpose::Verify, token, now).await?;
    let member_id = link.member_id.as_deref().unwrap_or_default();
    // The member must still exist with that address; the proof then holds
    // for the person in every organisation.
    let exists: Option<String> =
        sqlx::query_scalar("SELECT id FROM members WHERE id = $1 AND email = $2")
            .bind(member_id)
            .bind(&link.email)
            .fetch_optional(&mut *tx)
            .await?;
    members::mark_verified(&mut tx, &link.email, now).await?;
    if exists.is_none() {
        return Err(Error::invalid(
            "This verification link is for an account that no longer exists.",
        ));
    }
    let by = By::member(&link.email, client_ip);
    audit::record(
        &mut tx,
        &link.tenant_id,
        &by,
        AuditAction::EmailVerified,
        &link.email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
