use sqlx::FromRow;

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
}

/// E-mails are compared case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            }
            None => false,
        };
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid(format!(
            "{email:?} is not a valid e-mail address"
        )))
    }
}

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
    let hash = passwords::hash(password).await?;
    let member = Member {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: tenant_id.to_owned(),
        email,
        role,
        created_at: now,
        last_sign_in_at: None,
    };
    sqlx::query(
        "INSERT INTO members (id, tenant_id, email, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&member.id)
    .bind(&member.tenant_id)
    .bind(&member.email)
    .bind(&hash)
    .bind(member.role.as_str())
    .bind(member.created_at)
    .execute(&db.pool)
    .await
    .map_err(|e| {
        Error::on_unique_violation(e, || {
            format!("a member with e-mail {} already exists", member.email)
        })
    })?;
    Ok(member)
}

/// The credentials row for sign-in: (member id, password hash).
pub(crate) async fn credentials(db: &Db, email: &str) -> Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, password_hash FROM members WHERE email = $1")
            .bind(email)
            .fetch_optional(&db.pool)
            .await?,
    )
}

pub(crate) async fn record_sign_in(db: &Db, member_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE members SET last_sign_in_at = $1 WHERE id = $2")
        .bind(now)
        .bind(member_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The member and tenant a session points at, in one query.
pub async fn current(db: &Db, member_id: &str) -> Result<Option<CurrentMember>> {
    Ok(sqlx::query_as(
        "SELECT m.id AS member_id, m.email, m.role, t.id AS tenant_id, t.name AS tenant_name, \
         t.tier, t.time_zone FROM members m JOIN tenants t ON t.id = m.tenant_id WHERE m.id = $1",
    )
    .bind(member_id)
    .fetch_optional(&db.pool)
    .await?)
}

pub async fn list_for_tenant(db: &Db, tenant_id: &str) -> Result<Vec<Member>> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, email, role, created_at, last_sign_in_at FROM members \
         WHERE tenant_id = $1 ORDER BY created_at, email",
    )
    .bind(tenant_id)
    .fetch_all(&db.pool)
    .await?)
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
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?} accepted");
        }
    }
}
