//! Sign-up and e-mail verification. A sign-up creates nothing but a pending
//! sign-up and a mailed link; opening the link proves the address and
//! creates the free tenant with its person as owner, signed in.
//!
//! Neither the answer nor anything after it tells whether an address
//! already has an account: a duplicate gets the same answer (after the same
//! password hashing, with no look at the organisation's name), the
//! address's owner gets a message saying someone tried, and since nothing
//! exists before the link is opened, signing in with the password just
//! chosen fails alike for a new address and a taken one.

use super::audit::{self, By};
use super::email_links::{self, digest, NewLink, Purpose};
use super::outbox::Outbox;
use super::sign_in::SignedIn;
use super::tenants::{self, NewTenant};
use super::{emails, members, passwords, sign_in, Db, Error, Result};
use crate::model::{AuditAction, CurrentMember, Role};

/// Sign-ups one client may make per throttling window.
pub const PER_CLIENT: i64 = 5;
/// Sign-up e-mails one address may get per throttling window.
pub const PER_EMAIL: i64 = 3;
/// Seconds between two verification e-mails for one member.
pub const RESEND_AFTER_SECS: i64 = 60;
/// Passwords tried on one sign-up's link per throttling window.
pub const VERIFY_GUESSES: i64 = 5;

pub struct SignUp<'a> {
    pub organisation: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub client_ip: &'a str,
}

pub async fn sign_up(db: &Db, s: SignUp<'_>, outbox: &Outbox, now: i64) -> Result<()> {
    sign_in::throttle(db, &format!("signup:{}", s.client_ip), PER_CLIENT, now).await?;
    let organisation = organisation_name(s.organisation)?;
    let email = members::normalize_email(s.email)
        .map_err(|_| Error::invalid_field("email", "Enter a valid e-mail address."))?;
    passwords::check_new(s.password, &[&email, &organisation])?;
    // Counted after the checks, so a typo does not use the address's
    // budget; the same for a new address and a taken one.
    sign_in::throttle(db, &format!("signup-email:{email}"), PER_EMAIL, now).await?;
    // Hashed whether or not the address is taken: both answers take as long.
    let hash = passwords::hash(s.password.to_owned()).await?;
    let taken = members::find_by_email(db, &email).await?.is_some();
    let mut tx = db.pool.begin().await?;
    if taken {
        let message = emails::sign_up_with_existing_address(&outbox.public_url, &email);
        outbox.enqueue(&mut tx, &message, now).await?;
        tx.commit().await?;
        return Ok(());
    }
    // A new sign-up for the address replaces an earlier one still pending.
    sqlx::query("UPDATE pending_signups SET used_at = $1 WHERE email = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&email)
        .execute(&mut *tx)
        .await?;
    let token = email_links::new_token();
    let inserted = sqlx::query(
        "INSERT INTO pending_signups (token_hash, email, organisation, password_hash, client_ip, \
         created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest(&token))
    .bind(&email)
    .bind(&organisation)
    .bind(&hash)
    .bind(s.client_ip)
    .bind(now)
    // A sign-up's link lives as long as any verification link.
    .bind(now + Purpose::Verify.lifetime_secs())
    .execute(&mut *tx)
    .await;
    match inserted {
        // A racing sign-up for the same address won: the same quiet answer.
        Err(e) if matches!(&e, sqlx::Error::Database(d) if d.is_unique_violation()) => {
            return Ok(())
        }
        other => other?,
    };
    let message = emails::verify_email(&outbox.public_url, &email, &token);
    outbox.enqueue(&mut tx, &message, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The organisation's name as typed at sign-up, or on the link's page.
fn organisation_name(typed: &str) -> Result<String> {
    tenants::parse_name(typed).map_err(|_| {
        Error::invalid_field(
            "organisation",
            "The organisation name must be 1 to 100 characters.",
        )
    })
}

/// Forgets the sign-ups whose link expired unused (their password hashes
/// and addresses included); the hourly housekeeping calls it.
pub async fn forget_expired(db: &Db, now: i64) -> Result<u64> {
    Ok(
        sqlx::query("DELETE FROM pending_signups WHERE expires_at <= $1")
            .bind(now)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

/// A sign-up as its link finds it, usable or not.
#[derive(sqlx::FromRow)]
struct Pending {
    email: String,
    organisation: String,
    password_hash: String,
    client_ip: String,
    used_at: Option<i64>,
    expires_at: i64,
}

impl Pending {
    fn usable(&self, now: i64) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }
}

/// What a verification link did: a sign-up's link created its organisation
/// and signed its person in; a member's link (an address never proven)
/// proved the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    SignedUp(SignedIn),
    AddressProven,
}

/// What a sign-up's link proves, when it is one: the person opening it
/// shows the password chosen at sign-up (so an address signed up by someone
/// else cannot be handed an account whose password that someone knows) and
/// may rename the organisation (its name may have been taken since).
pub struct Verification<'a> {
    pub token: &'a str,
    pub password: &'a str,
    pub organisation: Option<&'a str>,
    /// `SIGNUP=closed` since the link was sent: it creates nothing.
    pub signup_open: bool,
    pub client_ip: &'a str,
}

async fn pending(db: &Db, token: &str) -> Result<Option<Pending>> {
    Ok(sqlx::query_as(
        "SELECT email, organisation, password_hash, client_ip, used_at, expires_at \
         FROM pending_signups WHERE token_hash = $1",
    )
    .bind(digest(token))
    .fetch_optional(&db.pool)
    .await?)
}

/// The organisation a sign-up's link would create, to show on its page
/// (`None`: not a sign-up's link, or one no longer usable).
pub async fn pending_organisation(db: &Db, token: &str, now: i64) -> Result<Option<String>> {
    Ok(pending(db, token)
        .await?
        .filter(|p| p.usable(now))
        .map(|p| p.organisation))
}

/// Uses a verification link. A sign-up's creates the organisation with the
/// person as its verified owner, signed in; a member's proves the address.
pub async fn verify_email(db: &Db, v: Verification<'_>, now: i64) -> Result<Verified> {
    let Some(pending) = pending(db, v.token).await? else {
        verify_member_address(db, v.token, v.client_ip, now).await?;
        return Ok(Verified::AddressProven);
    };
    if !pending.usable(now) {
        return Err(Error::invalid(
            "This sign-up link has expired or was already used. If your organisation was not \
             created, sign up again; if it was, sign in.",
        ));
    }
    if !v.signup_open {
        return Err(Error::Forbidden(
            "Sign-up is closed on this portal: ask its operator for an account.".into(),
        ));
    }
    let name = organisation_name(v.organisation.unwrap_or(&pending.organisation))?;
    // Guesses are counted before the check, as sign-ins are: a link held
    // for a day must not be a way to keep the hashing pool busy.
    let key = format!("signup-verify:{}", digest(v.token));
    sign_in::throttle(db, &key, VERIFY_GUESSES, now).await?;
    // Checked before anything is written: the hash takes a core for a
    // moment, and SQLite's one writer would wait for it.
    let hash = Some(pending.password_hash.clone());
    if !passwords::verify(v.password.to_owned(), hash).await? {
        return Err(Error::invalid_field(
            "password",
            "This is not the password chosen at sign-up. Whoever signed up chose it: if that \
             was not you, ignore the link.",
        ));
    }
    let mut tx = db.pool.begin().await?;
    // One conditional update: of racing requests, one gets the sign-up.
    let used = sqlx::query(
        "UPDATE pending_signups SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(digest(v.token))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if used == 0 {
        return Err(email_links::unusable(Purpose::Verify));
    }
    // The link proves the address: its owner may be told what exists. In
    // the transaction, so that an invitation accepted a moment ago cannot
    // give the person a second password.
    let member_now: Option<String> = sqlx::query_scalar("SELECT id FROM members WHERE email = $1")
        .bind(&pending.email)
        .fetch_optional(&mut *tx)
        .await?;
    if member_now.is_some() {
        return Err(Error::invalid(
            "This address has an account already (it joined an organisation since): sign in \
             with it instead.",
        ));
    }
    // A taken name (its unique index, case-insensitive) is said beside
    // the name's field, where it can be changed.
    let tenant = match tenants::insert(&mut tx, NewTenant::named(name.clone()), now).await {
        Err(Error::Conflict(_)) => {
            return Err(Error::invalid_field(
                "organisation",
                format!(
                    "An organisation named {name:?} exists already: choose another name for yours."
                ),
            ))
        }
        other => other?,
    };
    let member = members::insert(
        &mut tx,
        &tenant.id,
        &pending.email,
        Role::Owner,
        members::Password::New(&pending.password_hash),
        Some(now),
        now,
    )
    .await?;
    sqlx::query("UPDATE members SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(&member.id)
        .execute(&mut *tx)
        .await?;
    let by = By::visitor(&pending.email, &pending.client_ip);
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
    let by = By::member(&pending.email, v.client_ip);
    for action in [AuditAction::EmailVerified, AuditAction::SignedIn] {
        audit::record(&mut tx, &tenant.id, &by, action, &pending.email, "", now).await?;
    }
    tx.commit().await?;
    Ok(Verified::SignedUp(SignedIn {
        member_id: member.id,
        session_epoch: 0,
    }))
}

async fn send_verification(
    conn: &mut sqlx::AnyConnection,
    member_id: &str,
    tenant_id: &str,
    email: &str,
    outbox: &Outbox,
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
    let message = emails::verify_email(&outbox.public_url, email, &token);
    outbox.enqueue(conn, &message, now).await
}

/// A new verification e-mail (the old link stops working), at most one per
/// [`RESEND_AFTER_SECS`].
pub async fn resend_verification(
    db: &Db,
    member: &CurrentMember,
    outbox: &Outbox,
    now: i64,
) -> Result<()> {
    if member.is_verified() {
        return Err(Error::invalid("Your address is already verified."));
    }
    // One atomic count per window: a burst of requests sends one link.
    let key = format!("verify-resend:{}", member.member_id);
    match sign_in::throttle_within(db, &key, 1, RESEND_AFTER_SECS, now).await {
        Err(Error::Throttled {
            retry_after_secs: wait,
        }) => {
            return Err(Error::invalid(format!(
                "We sent a link less than a minute ago; ask again in {wait} s. Check your spam \
                 folder too."
            )))
        }
        other => other?,
    }
    let mut tx = db.pool.begin().await?;
    send_verification(
        &mut tx,
        &member.member_id,
        &member.tenant_id,
        &member.email,
        outbox,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Uses a member's verification link: the member's address is proven.
async fn verify_member_address(db: &Db, token: &str, client_ip: &str, now: i64) -> Result<()> {
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
