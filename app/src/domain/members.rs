use sqlx::FromRow;

use super::db::Bind;
use super::sqlite_reader::{parsed, FromSqliteRow};
use super::{passwords, Db, Error, Result};
use crate::model::{CurrentMember, Role};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Member {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub email_verified_at: Option<i64>,
}

/// E-mails are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    if is_plain_address(&email) {
        Ok(email)
    } else {
        Err(Error::invalid(format!(
            "{email:?} is not a valid e-mail address"
        )))
    }
}

/// A bare address, `local@domain`, and nothing a mailer could read as a
/// display name, a comment or a second recipient (`x<victim@example.com>`,
/// `a@b.co, c@d.co`): the local part is a dot-atom (RFC 5322), the domain
/// dot-separated labels of letters, digits and inner hyphens.
fn is_plain_address(email: &str) -> bool {
    const ATOM_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let dot_separated = |part: &str, ok: &dyn Fn(&str) -> bool| {
        !part.is_empty() && part.split('.').all(|piece| !piece.is_empty() && ok(piece))
    };
    let atom = |piece: &str| {
        piece
            .chars()
            .all(|c| c.is_alphanumeric() || ATOM_SPECIALS.contains(c))
    };
    let label = |piece: &str| {
        piece.len() <= 63
            && !piece.starts_with('-')
            && !piece.ends_with('-')
            && piece.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    email.len() <= 254
        && local.len() <= 64
        && dot_separated(local, &atom)
        && dot_separated(domain, &label)
        && domain.contains('.')
}

/// Adds a member with a password an operator chose (or generated).
pub async fn add(
    db: &Db,
    tenant_id: &str,
    email: &str,
    role: Role,
    password: String,
    now: i64,
) -> Result<Member> {
    let email = normalize_email(email)?;
    passwords::validate(&password)?;
    // One password per person: someone with an account elsewhere joins by
    // invitation, with the password they have.
    let tenants: Vec<String> = sqlx::query_scalar("SELECT tenant_id FROM members WHERE email = $1")
        .bind(&email)
        .fetch_all(&db.pool)
        .await?;
    if tenants.iter().any(|t| t == tenant_id) {
        return Err(Error::Conflict(format!(
            "a member with e-mail {email} already exists"
        )));
    }
    if !tenants.is_empty() {
        return Err(Error::Conflict(format!(
            "{email} already has an account in another organisation: invite it \
             (portal member invite) so that it joins with its own password"
        )));
    }
    let hash = passwords::hash(password).await?;
    let mut tx = db.pool.begin().await?;
    // An operator vouches for the address.
    let member = insert(
        &mut tx,
        tenant_id,
        &email,
        role,
        Password::New(&hash),
        Some(now),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(member)
}

/// The password a new member signs in with. A person has one, in every
/// organisation they belong to (the `people` table holds it).
pub(crate) enum Password<'a> {
    /// Someone new to the portal: this hash becomes their password.
    New(&'a str),
    /// Someone who belongs to another organisation and proved their
    /// password: they keep it.
    Theirs,
}

/// Inserts a member on `conn` (inside a transaction: a new person's row is
/// written first).
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &str,
    email: &str,
    role: Role,
    password: Password<'_>,
    email_verified_at: Option<i64>,
    now: i64,
) -> Result<Member> {
    if let Password::New(hash) = password {
        let inserted = sqlx::query(
            "INSERT INTO people (email, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(email)
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 0 {
            // A person already. Their row locked first, then their
            // memberships read by a statement of its own (so a join that
            // committed meanwhile is seen): someone in an organisation
            // keeps their password; someone in none gets this one.
            sqlx::query("UPDATE people SET password_hash = password_hash WHERE email = $1")
                .bind(email)
                .execute(&mut *conn)
                .await?;
            let member: Option<String> =
                sqlx::query_scalar("SELECT id FROM members WHERE email = $1 LIMIT 1")
                    .bind(email)
                    .fetch_optional(&mut *conn)
                    .await?;
            if member.is_some() {
                return Err(Error::invalid_field(
                    "password",
                    "This address has an account already: enter its password.",
                ));
            }
            set_password(&mut *conn, email, hash).await?;
        }
    }
    let member = Member {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_owned(),
        email: email.to_owned(),
        role,
        created_at: now,
        last_sign_in_at: None,
        email_verified_at,
    };
    sqlx::query(
        "INSERT INTO members (id, tenant_id, email, role, created_at, email_verified_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&member.id)
    .bind(&member.tenant_id)
    .bind(&member.email)
    .bind(member.role.as_str())
    .bind(member.created_at)
    .bind(member.email_verified_at)
    .execute(conn)
    .await
    .map_err(|e| {
        Error::on_unique_violation(e, || {
            format!("a member with e-mail {} already exists", member.email)
        })
    })?;
    Ok(member)
}

/// What sign-in checks a password against.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct Credentials {
    pub id: String,
    pub tenant_id: String,
    pub password_hash: String,
    pub session_epoch: i64,
}

/// A person in several organisations signs in to the one they used last
/// (and switches on My account).
pub(crate) async fn credentials(db: &Db, email: &str) -> Result<Option<Credentials>> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.tenant_id, p.password_hash, m.session_epoch FROM members m \
         JOIN people p ON p.email = m.email WHERE m.email = $1 \
         ORDER BY COALESCE(m.last_sign_in_at, 0) DESC, m.created_at LIMIT 1",
    )
    .bind(email)
    .fetch_optional(&db.pool)
    .await?)
}

pub(crate) async fn credentials_by_id(db: &Db, member_id: &str) -> Result<Option<Credentials>> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.tenant_id, p.password_hash, m.session_epoch FROM members m \
         JOIN people p ON p.email = m.email WHERE m.id = $1",
    )
    .bind(member_id)
    .fetch_optional(&db.pool)
    .await?)
}

/// Sets a person's password, in every organisation they belong to.
pub(crate) async fn set_password(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    hash: &str,
) -> Result<()> {
    sqlx::query("UPDATE people SET password_hash = $1 WHERE email = $2")
        .bind(hash)
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets the passwords of people who no longer belong to any
/// organisation (removed, or their organisation deleted).
pub async fn forget_people_without_membership(db: &Db) -> Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM people WHERE NOT EXISTS \
         (SELECT 1 FROM members WHERE members.email = people.email)",
    )
    .execute(&db.pool)
    .await?
    .rows_affected())
}

/// A member with this address, in any tenant (the one used last).
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<Member>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM members WHERE email = $1 \
         ORDER BY COALESCE(last_sign_in_at, 0) DESC, created_at LIMIT 1"
    ))
    .bind(email.trim().to_lowercase())
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn get(db: &Db, tenant_id: &str, member_id: &str) -> Result<Member> {
    // Ids are UUIDs we made: anything else names nobody, and never reaches
    // the database (PostgreSQL refuses some strings, e.g. with NUL).
    if uuid::Uuid::parse_str(member_id).is_err() {
        return Err(Error::NotFound(super::error::Thing::Member));
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM members WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(member_id)
    .bind(tenant_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(super::error::Thing::Member))
}

/// The address is proven (by a link sent to it): for the person in every
/// organisation.
pub(crate) async fn mark_verified(
    conn: &mut sqlx::AnyConnection,
    email: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE members SET email_verified_at = COALESCE(email_verified_at, $1) WHERE email = $2",
    )
    .bind(now)
    .bind(email)
    .execute(conn)
    .await?;
    Ok(())
}

/// The organisations a person (an address) belongs to: (member id,
/// organisation, role), by name.
pub async fn organisations(db: &Db, email: &str) -> Result<Vec<(String, String, Role)>> {
    const ORGANISATIONS: &str =
        "SELECT m.id, t.name, m.role FROM members m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.email = $1 ORDER BY t.name";
    // The account page asks on every view.
    let rows: Vec<(String, String, String)> =
        db.read_all(ORGANISATIONS, &[Bind::Text(email)]).await?;
    rows.into_iter()
        .map(|(id, name, role)| Ok((id, name, role.parse().map_err(Error::Internal)?)))
        .collect()
}

const COLUMNS: &str = "id, tenant_id, email, role, created_at, last_sign_in_at, email_verified_at";

/// The member and tenant a session points at, in one query.
pub async fn current(db: &Db, member_id: &str) -> Result<Option<CurrentMember>> {
    const CURRENT: &str =
        "SELECT m.id AS member_id, m.email, m.role, m.email_verified_at, m.session_epoch, \
         t.id AS tenant_id, t.name AS tenant_name, t.tier, t.time_zone \
         FROM members m JOIN tenants t ON t.id = m.tenant_id WHERE m.id = $1";
    // Every signed-in request asks this.
    db.read_optional(CURRENT, &[Bind::Text(member_id)]).await
}

impl FromSqliteRow for CurrentMember {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(CurrentMember {
            member_id: row.get(0)?,
            email: row.get(1)?,
            role: parsed(row, 2)?,
            email_verified_at: row.get(3)?,
            session_epoch: row.get(4)?,
            tenant_id: row.get(5)?,
            tenant_name: row.get(6)?,
            tier: parsed(row, 7)?,
            time_zone: row.get(8)?,
        })
    }
}

pub async fn list_for_tenant(db: &Db, tenant_id: &str) -> Result<Vec<Member>> {
    // The team and audit pages ask on every view.
    let sql =
        format!("SELECT {COLUMNS} FROM members WHERE tenant_id = $1 ORDER BY created_at, email");
    db.read_all(&sql, &[Bind::Text(tenant_id)]).await
}

impl FromSqliteRow for Member {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(Member {
            id: row.get(0)?,
            tenant_id: row.get(1)?,
            email: row.get(2)?,
            role: parsed(row, 3)?,
            created_at: row.get(4)?,
            last_sign_in_at: row.get(5)?,
            email_verified_at: row.get(6)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_email;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            // What a mailer reads as another recipient.
            "x<victim@example.com>",
            "victim@example.com>",
            "\"x\"@example.com",
            "a@example.com,b@example.com",
            "ada(comment)@example.com",
            "ada..b@example.com",
            ".ada@example.com",
            "ada@-example.com",
            "ada@example..com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
        for good in [
            "o'brien+agents@mail.example.co.uk",
            "first.last@sub-domain.example",
        ] {
            assert_eq!(normalize_email(good).unwrap(), good);
        }
    }
}
