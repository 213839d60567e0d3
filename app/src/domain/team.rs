//! A tenant's team: invitations, roles and removals. Owners invite with any
//! role, change roles, remove members and revoke invitations; admins invite
//! viewers only. A tenant always keeps an owner: the last one can be neither
//! removed nor demoted (checked under the tenant's lock, so two owners
//! demoting each other at once cannot both succeed).
//!
//! Sessions need no clean-up: every request reads the member afresh, so a
//! removed member is signed out and a demoted one loses the right on their
//! next request.

use sqlx::FromRow;

use super::audit::{self, By};
use super::db::Bind;
use super::email_links::{self, NewLink, Purpose};
use super::error::Thing;
use super::outbox::Outbox;
use super::sqlite_reader::{parsed, FromSqliteRow};
use super::{emails, members, passwords, sign_in, tenants, Db, Error, Result};
use crate::model::{AuditAction, Role};

/// Who acts on the team: a signed-in member, or the operator (as an owner).
#[derive(Debug, Clone)]
pub struct Acting {
    pub tenant_id: String,
    pub role: Role,
    pub by: By,
}

/// A pending invitation, as the team page lists it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Invitation {
    /// Names the invitation in a revocation (the stored hash: it opens nothing).
    pub id: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

fn only_owners(acting: &Acting, what: &str) -> Result<()> {
    if acting.role == Role::Owner {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("Only owners can {what}.")))
    }
}

/// Whether a member with role `by` may send (or replace) an invitation as
/// `role`: owners any, admins viewers only.
fn may_invite(by: Role, role: Role) -> bool {
    matches!((by, role), (Role::Owner, _) | (Role::Admin, Role::Viewer))
}

/// Invitations a member may send per throttling window, and a whole
/// organisation; an organisation younger than [`NEW_TENANT_SECS`] gets
/// [`INVITES_PER_NEW_TENANT`] in all. Each is a mail from the portal's own
/// sender: a stranger who signs up must not be able to make it a spam cannon.
pub const INVITES_PER_MEMBER: i64 = 10;
pub const INVITES_PER_TENANT: i64 = 30;
pub const INVITES_PER_NEW_TENANT: i64 = 5;
pub const NEW_TENANT_SECS: i64 = 24 * 3600;

/// Counts one invitation against the member's and the organisation's
/// budgets (the operator, inviting from the CLI, has none).
async fn throttle_invitations(db: &Db, acting: &Acting, now: i64) -> Result<()> {
    if acting.by.kind == audit::ActorKind::Operator {
        return Ok(());
    }
    let tenant = tenants::get(db, &acting.tenant_id).await?;
    let per_tenant = if now - tenant.created_at < NEW_TENANT_SECS {
        INVITES_PER_NEW_TENANT
    } else {
        INVITES_PER_TENANT
    };
    let tenant_key = format!("invite-tenant:{}", acting.tenant_id);
    let member_key = format!("invite-member:{} {}", acting.tenant_id, acting.by.name);
    sign_in::throttle(db, &member_key, INVITES_PER_MEMBER, now).await?;
    sign_in::throttle(db, &tenant_key, per_tenant, now).await
}

/// Invites `email` with `role`: an e-mail with a 7-day single-use link.
/// Inviting the same address again replaces the pending invitation.
pub async fn invite(
    db: &Db,
    acting: &Acting,
    email: &str,
    role: Role,
    outbox: &Outbox,
    now: i64,
) -> Result<()> {
    match acting.role {
        _ if may_invite(acting.role, role) => {}
        Role::Admin => {
            return Err(Error::Forbidden(
                "Admins can invite viewers only; ask an owner to invite an admin or owner.".into(),
            ))
        }
        _ => return Err(Error::Forbidden("Viewers cannot invite anyone.".into())),
    }
    let email = members::normalize_email(email)
        .map_err(|_| Error::invalid_field("email", "Enter a valid e-mail address."))?;
    throttle_invitations(db, acting, now).await?;
    let mut tx = db.pool.begin().await?;
    let tenant_name = tenants::lock(&mut tx, db.backend, &acting.tenant_id).await?;
    let member_here: Option<String> =
        sqlx::query_scalar("SELECT id FROM members WHERE tenant_id = $1 AND email = $2")
            .bind(&acting.tenant_id)
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
    if member_here.is_some() {
        return Err(Error::Conflict(format!("{email} is already a member.")));
    }
    // Re-inviting replaces the pending invitation: only someone who could
    // have sent that one may (an admin cannot cancel an owner's).
    let pending: Vec<String> = sqlx::query_scalar(
        "SELECT role FROM email_links WHERE tenant_id = $1 AND purpose = 'invite' \
         AND email = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(&acting.tenant_id)
    .bind(&email)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(role) = pending
        .iter()
        .filter_map(|r| r.parse::<Role>().ok())
        .find(|r| !may_invite(acting.role, *r))
    {
        return Err(Error::Forbidden(format!(
            "{email} has a pending invitation as {role}: only an owner can replace or revoke it."
        )));
    }
    sqlx::query(
        "UPDATE email_links SET used_at = $1 WHERE tenant_id = $2 AND purpose = 'invite' \
         AND email = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(&acting.tenant_id)
    .bind(&email)
    .execute(&mut *tx)
    .await?;
    let token = email_links::issue(
        &mut tx,
        NewLink {
            purpose: Purpose::Invite,
            tenant_id: &acting.tenant_id,
            member_id: None,
            email: &email,
            role: Some(role),
            created_by: &acting.by.name,
        },
        now,
    )
    .await?;
    let inviter = if acting.by.name == "operator" {
        "An operator"
    } else {
        acting.by.name.as_str()
    };
    let message = emails::invitation(
        &outbox.public_url,
        &email,
        &tenant_name,
        inviter,
        role,
        &token,
    );
    outbox.enqueue(&mut tx, &message, now).await?;
    audit::record(
        &mut tx,
        &acting.tenant_id,
        &acting.by,
        AuditAction::MemberInvited,
        &email,
        role.as_str(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn pending_invitations(db: &Db, tenant_id: &str, now: i64) -> Result<Vec<Invitation>> {
    const PENDING: &str =
        "SELECT token_hash AS id, email, role, created_by, created_at, expires_at FROM email_links \
         WHERE tenant_id = $1 AND purpose = 'invite' AND used_at IS NULL AND expires_at > $2 \
         ORDER BY created_at DESC";
    // The team page asks on every view.
    db.read_all(PENDING, &[Bind::Text(tenant_id), Bind::Int(now)])
        .await
}

impl FromSqliteRow for Invitation {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(Invitation {
            id: row.get(0)?,
            email: row.get(1)?,
            role: parsed(row, 2)?,
            created_by: row.get(3)?,
            created_at: row.get(4)?,
            expires_at: row.get(5)?,
        })
    }
}

pub async fn revoke_invitation(
    db: &Db,
    acting: &Acting,
    invitation_id: &str,
    now: i64,
) -> Result<()> {
    only_owners(acting, "revoke invitations")?;
    if invitation_id.len() != 64 || !invitation_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::NotFound(Thing::Invitation));
    }
    let mut tx = db.pool.begin().await?;
    let emails: Vec<String> = sqlx::query_scalar(
        "UPDATE email_links SET used_at = $1 WHERE token_hash = $2 AND tenant_id = $3 \
         AND purpose = 'invite' AND used_at IS NULL RETURNING email",
    )
    .bind(now)
    .bind(invitation_id)
    .bind(&acting.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    let email = emails
        .into_iter()
        .next()
        .ok_or(Error::NotFound(Thing::Invitation))?;
    audit::record(
        &mut tx,
        &acting.tenant_id,
        &acting.by,
        AuditAction::InvitationRevoked,
        &email,
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What an invitation link opens: the organisation and the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationView {
    pub organisation: String,
    pub email: String,
    pub role: Role,
    /// The address already has an account (in another organisation): it
    /// joins with that account's password instead of choosing one.
    pub existing_account: bool,
}

pub async fn view_invitation(db: &Db, token: &str, now: i64) -> Result<InvitationView> {
    let link = email_links::peek(db, Purpose::Invite, token, now).await?;
    let tenant = tenants::get(db, &link.tenant_id).await?;
    Ok(InvitationView {
        organisation: tenant.name,
        existing_account: members::find_by_email(db, &link.email).await?.is_some(),
        email: link.email,
        role: link.role.0.unwrap_or(Role::Viewer),
    })
}

/// Guesses at an existing account's password through its invitation, per
/// address and throttling window (the link's holder has the mail already).
pub const JOIN_ATTEMPTS: i64 = 5;

/// Accepts an invitation: the member is created with the address proven by
/// the link, and signs in. A new person chooses a password; someone with an
/// account elsewhere gives that account's password, which stays their one
/// password. Returns the new member's id.
pub async fn accept(
    db: &Db,
    token: &str,
    password: &str,
    client_ip: &str,
    now: i64,
) -> Result<String> {
    let view = view_invitation(db, token, now).await?;
    let hash = match members::find_by_email(db, &view.email).await? {
        Some(existing) => {
            let key = format!("join:{}", view.email);
            sign_in::throttle(db, &key, JOIN_ATTEMPTS, now).await?;
            let stored = members::credentials_by_id(db, &existing.id)
                .await?
                .map(|c| c.password_hash);
            if !passwords::verify(password.to_owned(), stored).await? {
                return Err(Error::invalid_field(
                    "password",
                    "That is not the password of your account.",
                ));
            }
            None
        }
        None => {
            passwords::check_new(password, &[&view.email, &view.organisation])?;
            Some(passwords::hash(password.to_owned()).await?)
        }
    };
    let mut tx = db.pool.begin().await?;
    let link = email_links::redeem(&mut tx, Purpose::Invite, token, now).await?;
    let role = link.role.0.unwrap_or(Role::Viewer);
    let member = members::insert(
        &mut tx,
        &link.tenant_id,
        &link.email,
        role,
        match &hash {
            Some(hash) => members::Password::New(hash),
            None => members::Password::Theirs,
        },
        Some(now),
        now,
    )
    .await
    .map_err(|e| match e {
        Error::Conflict(_) => Error::Conflict(format!(
            "{} is already a member of {}: sign in.",
            link.email, view.organisation
        )),
        e => e,
    })?;
    // Joining proves the address for the person everywhere.
    members::mark_verified(&mut tx, &link.email, now).await?;
    let by = By::member(&link.email, client_ip);
    audit::record(
        &mut tx,
        &link.tenant_id,
        &by,
        AuditAction::InvitationAccepted,
        &link.email,
        role.as_str(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(member.id)
}

/// The session to start when the person switches to another organisation
/// they belong to (`to`: a member id of theirs), recorded there as a
/// sign-in. A member id of someone else is "not found".
pub async fn switch_organisation(
    db: &Db,
    from: &crate::model::CurrentMember,
    to: &str,
    client_ip: &str,
    now: i64,
) -> Result<crate::domain::sign_in::SignedIn> {
    let not_theirs = || Error::NotFound(Thing::Member);
    if uuid::Uuid::parse_str(to).is_err() {
        return Err(not_theirs());
    }
    let target = members::current(db, to).await?.ok_or_else(not_theirs)?;
    if target.email != from.email {
        return Err(not_theirs());
    }
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE members SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    let by = By::member(&from.email, client_ip);
    let detail = format!("switched from {}", from.tenant_name);
    audit::record(
        &mut tx,
        &target.tenant_id,
        &by,
        AuditAction::SignedIn,
        &from.email,
        &detail,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(crate::domain::sign_in::SignedIn {
        member_id: target.member_id,
        session_epoch: target.session_epoch,
    })
}

/// Takes the tenant's lock on `conn` (a transaction), then reads the
/// member's role and whether they are the tenant's only owner: what a role
/// change or removal checks, with no other one running in between.
async fn role_under_lock(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    acting: &Acting,
    member_id: &str,
) -> Result<(Role, bool)> {
    tenants::lock(conn, db.backend, &acting.tenant_id).await?;
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM members WHERE id = $1 AND tenant_id = $2")
            .bind(member_id)
            .bind(&acting.tenant_id)
            .fetch_optional(&mut *conn)
            .await?;
    let role: Role = role
        .ok_or(Error::NotFound(Thing::Member))?
        .parse()
        .map_err(Error::Internal)?;
    let sole_owner = role == Role::Owner && owners(conn, &acting.tenant_id).await? <= 1;
    Ok((role, sole_owner))
}

/// Owners in the tenant, read on `conn` under the tenant's lock.
async fn owners(conn: &mut sqlx::AnyConnection, tenant_id: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE tenant_id = $1 AND role = 'owner'")
            .bind(tenant_id)
            .fetch_one(conn)
            .await?,
    )
}

pub async fn set_role(
    db: &Db,
    acting: &Acting,
    member_id: &str,
    role: Role,
    now: i64,
) -> Result<()> {
    only_owners(acting, "change roles")?;
    let member = members::get(db, &acting.tenant_id, member_id).await?;
    if member.role == role {
        return Ok(());
    }
    let mut tx = db.pool.begin().await?;
    let (current, sole_owner) = role_under_lock(&mut tx, db, acting, member_id).await?;
    if sole_owner && role != Role::Owner {
        return Err(Error::Conflict(
            "The last owner cannot be demoted: make someone else an owner first.".into(),
        ));
    }
    sqlx::query("UPDATE members SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
    revoke_invitations_sent_by(&mut tx, acting, &member.email, Some(role), now).await?;
    audit::record(
        &mut tx,
        &acting.tenant_id,
        &acting.by,
        AuditAction::RoleChanged,
        &member.email,
        &format!("{current} → {role}"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends the pending invitations `email` sent in the tenant that a member
/// with `role` (`None`: no longer a member) could not send: an invitation
/// does not outlive its sender's right to send it. Each one ended is in the
/// trail, as a revocation by whoever changed the sender.
async fn revoke_invitations_sent_by(
    conn: &mut sqlx::AnyConnection,
    acting: &Acting,
    email: &str,
    role: Option<Role>,
    now: i64,
) -> Result<()> {
    let pending: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT token_hash, role, email FROM email_links WHERE tenant_id = $1 \
         AND purpose = 'invite' AND created_by = $2 AND used_at IS NULL",
    )
    .bind(&acting.tenant_id)
    .bind(email)
    .fetch_all(&mut *conn)
    .await?;
    let why = match role {
        Some(role) => format!("sent by {email}, now {role}"),
        None => format!("sent by {email}, removed"),
    };
    for (token_hash, invited_as, invited) in pending {
        let still_allowed = match (role, invited_as.parse::<Role>().ok()) {
            (Some(by), Some(invited_as)) => may_invite(by, invited_as),
            _ => false,
        };
        if !still_allowed {
            sqlx::query("UPDATE email_links SET used_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&token_hash)
                .execute(&mut *conn)
                .await?;
            audit::record(
                conn,
                &acting.tenant_id,
                &acting.by,
                AuditAction::InvitationRevoked,
                &invited,
                &why,
                now,
            )
            .await?;
        }
    }
    Ok(())
}

pub async fn remove(db: &Db, acting: &Acting, member_id: &str, now: i64) -> Result<()> {
    only_owners(acting, "remove members")?;
    let member = members::get(db, &acting.tenant_id, member_id).await?;
    let mut tx = db.pool.begin().await?;
    let (current, sole_owner) = role_under_lock(&mut tx, db, acting, member_id).await?;
    if sole_owner {
        return Err(Error::Conflict(
            "The last owner cannot be removed: make someone else an owner first.".into(),
        ));
    }
    sqlx::query("DELETE FROM members WHERE id = $1")
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
    revoke_invitations_sent_by(&mut tx, acting, &member.email, None, now).await?;
    audit::record(
        &mut tx,
        &acting.tenant_id,
        &acting.by,
        AuditAction::MemberRemoved,
        &member.email,
        current.as_str(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The member of the tenant with this address (the CLI names members so).
pub async fn find(db: &Db, tenant_id: &str, email: &str) -> Result<members::Member> {
    let email = email.trim().to_lowercase();
    sqlx::query_as(
        "SELECT id, tenant_id, email, role, created_at, last_sign_in_at, email_verified_at \
         FROM members WHERE tenant_id = $1 AND email = $2",
    )
    .bind(tenant_id)
    .bind(&email)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(Thing::Member))
}
