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
    let name = new.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid_field(
            "name",
            "tenant name must be 1 to 100 characters",
        ));
    }
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
    .execute(&db.pool)
    .await
    .map_err(|e| {
        Error::on_unique_violation(e, || {
            format!("a tenant named {:?} already exists", tenant.name)
        })
    })?;
    Ok(tenant)
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
pub async fn set_time_zone(db: &Db, id: &str, name: &str) -> Result<String> {
    let zone = super::time_zones::parse(name)?;
    let name = zone.iana_name().unwrap_or("UTC").to_owned();
    let done = sqlx::query("UPDATE tenants SET time_zone = $1 WHERE id = $2")
        .bind(&name)
        .bind(id)
        .execute(&db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(Thing::Tenant));
    }
    db.recent.forget(id);
    Ok(name)
}
