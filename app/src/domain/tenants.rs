use sqlx::FromRow;

use super::error::Thing;
use super::{Db, Error, Result};
use crate::model::Tier;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    #[sqlx(try_from = "String")]
    pub tier: Tier,
    pub time_zone: String,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub tier: Tier,
    pub time_zone: String,
}

impl NewTenant {
    /// A new tenant starts on `free` in UTC.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tier: Tier::Free,
            time_zone: "UTC".into(),
        }
    }
}

const COLUMNS: &str = "id, name, tier, time_zone, created_at";

pub async fn create(db: &Db, new: NewTenant, now: i64) -> Result<Tenant> {
    let mut conn = db.pool.acquire().await?;
    insert(&mut conn, new, now).await
}

/// [`create`] on `conn`, e.g. the transaction of a sign-up.
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    new: NewTenant,
    now: i64,
) -> Result<Tenant> {
    let name = parse_name(&new.name)?;
    let zone = super::time_zones::parse(&new.time_zone)?;
    let tenant = Tenant {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        tier: new.tier,
        time_zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        created_at: now,
    };
    sqlx::query(
        "INSERT INTO tenants (id, name, tier, time_zone, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(tenant.tier.as_str())
    .bind(&tenant.time_zone)
    .bind(tenant.created_at)
    .execute(conn)
    .await
    .map_err(|e| {
        Error::on_unique_violation(e, || {
            format!("An organisation named {:?} already exists.", tenant.name)
        })
    })?;
    Ok(tenant)
}

/// Takes the tenant's row lock on `conn` (a transaction) so that checks and
/// changes of its members or agents run one after the other (SQLite: the
/// write lock; PostgreSQL: the row lock). Returns the tenant's name.
pub(crate) async fn lock(
    conn: &mut sqlx::AnyConnection,
    backend: super::db::Backend,
    id: &str,
) -> Result<String> {
    let lock = match backend {
        super::db::Backend::Sqlite => "UPDATE tenants SET name = name WHERE id = $1 RETURNING name",
        super::db::Backend::Postgres => "SELECT name FROM tenants WHERE id = $1 FOR UPDATE",
    };
    let names: Vec<String> = sqlx::query_scalar(lock).bind(id).fetch_all(conn).await?;
    names
        .into_iter()
        .next()
        .ok_or(Error::NotFound(Thing::Tenant))
}

/// The rules of a tenant name; returns it trimmed.
pub fn parse_name(name: &str) -> Result<String> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::invalid_field(
            "name",
            "The organisation name must be 1 to 100 characters.",
        ));
    }
    Ok(name)
}

/// Operators name a tenant by id or by (case-insensitive) name.
pub async fn find_by_id_or_name(db: &Db, key: &str) -> Result<Tenant> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants WHERE id = $1 OR lower(name) = lower($1)"
    ))
    .bind(key.trim())
    .fetch_optional(&db.pool)
    .await?
    .ok_or(Error::NotFound(Thing::Tenant))
}

pub async fn list(db: &Db) -> Result<Vec<Tenant>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM tenants ORDER BY created_at, name"
    ))
    .fetch_all(&db.pool)
    .await?)
}

pub async fn get(db: &Db, id: &str) -> Result<Tenant> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .ok_or(Error::NotFound(Thing::Tenant))
}

/// Sets the zone analytics buckets days and hours in; returns the zone's
/// canonical spelling.
pub async fn set_time_zone(
    db: &Db,
    id: &str,
    name: &str,
    now: i64,
    by: &super::audit::By,
) -> Result<String> {
    let zone = super::time_zones::parse(name)?;
    let name = zone.iana_name().unwrap_or("UTC").to_owned();
    let before = get(db, id).await?.time_zone;
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query("UPDATE tenants SET time_zone = $1 WHERE id = $2")
        .bind(&name)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(Thing::Tenant));
    }
    super::audit::record(
        &mut tx,
        id,
        by,
        crate::model::AuditAction::TimeZoneChanged,
        "time zone",
        &format!("{before} → {name}"),
        now,
    )
    .await?;
    tx.commit().await?;
    db.recent.forget(id);
    Ok(name)
}
