//! The audit trail: who changed what in a tenant. Entries are written with
//! [`record`] on the transaction of the change itself, so a change that
//! fails or rolls back leaves no entry, and none is ever missing. Entries
//! never hold secrets (no passwords, tokens or client secrets).

use std::sync::Arc;

use sqlx::AnyConnection;

use super::db::{query_as_with, Bind};
use super::sqlite_reader::FromSqliteRow;
use super::{Db, Error, Result};
use crate::model::audit::{AuditEntry, AuditFilter, AuditListing, AuditPage, AuditQuery};
use crate::model::AuditAction;

/// Who made a change, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct By {
    pub kind: ActorKind,
    /// The member's e-mail (a visitor's: the address typed), `Stripe`,
    /// `operator`.
    pub name: String,
    /// The client's address; empty when there is none (CLI, Stripe).
    pub client_ip: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    Member,
    Operator,
    Stripe,
    /// Someone not signed in who proved nothing yet: a sign-up, a reset
    /// through an e-mailed link.
    Visitor,
    /// Someone not signed in trying something at a member's address (a
    /// failed sign-in, a reset request): whoever typed it, not the member.
    Unauthenticated,
    /// The portal itself (a secret that expired).
    Portal,
}

impl ActorKind {
    fn as_str(self) -> &'static str {
        match self {
            ActorKind::Member => "member",
            ActorKind::Operator => "operator",
            ActorKind::Stripe => "stripe",
            ActorKind::Visitor => "visitor",
            ActorKind::Unauthenticated => "unauthenticated",
            ActorKind::Portal => "portal",
        }
    }
}

impl By {
    pub fn member(email: &str, client_ip: &str) -> Self {
        By {
            kind: ActorKind::Member,
            name: email.to_owned(),
            client_ip: client_ip.to_owned(),
        }
    }
    pub fn visitor(email: &str, client_ip: &str) -> Self {
        By {
            kind: ActorKind::Visitor,
            name: email.to_owned(),
            client_ip: client_ip.to_owned(),
        }
    }
    /// An attempt by someone not signed in: the trail names no member as
    /// its actor (the address typed is the entry's object).
    pub fn unauthenticated(client_ip: &str) -> Self {
        By {
            kind: ActorKind::Unauthenticated,
            name: "unauthenticated attempt".into(),
            client_ip: client_ip.to_owned(),
        }
    }
    pub fn operator() -> Self {
        By {
            kind: ActorKind::Operator,
            name: "operator".into(),
            client_ip: String::new(),
        }
    }
    pub fn portal() -> Self {
        By {
            kind: ActorKind::Portal,
            name: "portal".into(),
            client_ip: String::new(),
        }
    }
    pub fn stripe() -> Self {
        By {
            kind: ActorKind::Stripe,
            name: "Stripe".into(),
            client_ip: String::new(),
        }
    }
}

/// Writes one entry on `conn`: pass the change's own transaction.
pub async fn record(
    conn: &mut AnyConnection,
    tenant_id: &str,
    by: &By,
    action: AuditAction,
    object: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, at, actor_kind, actor, action, object, detail, client_ip) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id)
    .bind(now)
    .bind(by.kind.as_str())
    .bind(&by.name)
    .bind(action.as_str())
    .bind(object)
    .bind(detail)
    .bind(&by.client_ip)
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads what was typed: empty parts are no filter; a bad date, action or
/// position is a 400 naming the field. Returns the filter and the position.
pub fn parse_query(q: &AuditQuery) -> Result<(AuditFilter, Option<Position>)> {
    let text = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let day = |field: &str, v: &Option<String>| -> Result<Option<i64>> {
        text(v)
            .map(|v| {
                v.parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
                    .map(|z| z.timestamp().as_second())
                    .ok_or_else(|| {
                        Error::invalid_field(field, format!("{v:?} is not a date (YYYY-MM-DD)"))
                    })
            })
            .transpose()
    };
    let from = day("from", &q.from)?;
    let until = day("to", &q.to)?.map(|t| t + 86_400);
    if let (Some(from), Some(until)) = (from, until) {
        if until <= from {
            return Err(Error::invalid_field(
                "to",
                "The end date is before the start date.",
            ));
        }
    }
    let before = text(&q.before)
        .map(|b| {
            Position::parse(&b).ok_or_else(|| {
                Error::invalid_field("before", format!("{b:?} is not a position in the trail"))
            })
        })
        .transpose()?;
    Ok((
        AuditFilter {
            actor: text(&q.actor).map(|a| a.to_lowercase()).map(|a| {
                if a == "stripe" {
                    "Stripe".into()
                } else {
                    a
                }
            }),
            action: text(&q.action),
            from,
            until,
        },
        before,
    ))
}

pub const PAGE_SIZE: i64 = 50;
/// The CSV export's bound: a year of a busy tenant.
pub const EXPORT_LIMIT: i64 = 100_000;

/// Where a page of the trail ends: entries are ordered by (time, id), and
/// the next page starts below this pair. Written `{at}-{id}` in links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub at: i64,
    pub id: i64,
}

impl Position {
    fn parse(text: &str) -> Option<Self> {
        let (at, id) = text.split_once('-')?;
        Some(Position {
            at: at.parse().ok()?,
            id: id.parse().ok()?,
        })
    }

    fn of(e: &AuditEntry) -> String {
        format!("{}-{}", e.at, e.id)
    }
}

/// [`list`]'s page and the actor suggestions for the audit page, shared by
/// the requests that want them while the tenant's trail has the same newest
/// entry, for at most the current second (`RecentReads`). The trail only
/// grows, so a page made after the newest entry stays right until another
/// comes; the second bounds what a late commit on another PostgreSQL
/// instance (whose entry is not the newest) or a pruning could leave out.
pub async fn listing_recent(
    db: &Db,
    tenant_id: &str,
    filter: &AuditFilter,
    before: Option<Position>,
    now: i64,
) -> Result<Arc<AuditListing>> {
    let newest: Option<(i64,)> = db
        .read_optional(
            "SELECT id FROM audit_log WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT 1",
            &[Bind::Text(tenant_id)],
        )
        .await?;
    let view = format!(
        "audit:{}:{filter:?}:{before:?}",
        newest.map_or(0, |(id,)| id)
    );
    db.recent
        .get_or_read(tenant_id, view, now, || async {
            let page = list(db, tenant_id, filter, before, PAGE_SIZE).await?;
            let mut actors: Vec<String> = super::members::list_for_tenant(db, tenant_id)
                .await?
                .into_iter()
                .map(|m| m.email)
                .collect();
            actors.extend(["Stripe".to_owned(), "operator".to_owned()]);
            Ok(AuditListing { page, actors })
        })
        .await
}

/// Entries before `before` (none: the newest) that match `filter`, newest
/// first, at most `limit`. Keyset pagination on the (tenant, [action |
/// actor,] at, id) indexes: every filter is one index range read in order,
/// as fast on page 1,000 as on page 1.
pub async fn list<'a>(
    db: &Db,
    tenant_id: &'a str,
    filter: &'a AuditFilter,
    before: Option<Position>,
    limit: i64,
) -> Result<AuditPage> {
    if let Some(action) = &filter.action {
        if AuditAction::parse(action).is_none() {
            return Err(Error::invalid_field(
                "action",
                format!("{action:?} is not an action the audit trail records"),
            ));
        }
    }
    let mut sql = String::from(
        "SELECT id, at, actor_kind, actor, action, object, detail, client_ip FROM audit_log \
         WHERE tenant_id = $1",
    );
    let mut binds = vec![Bind::Text(tenant_id)];
    let mut clause = |sql: &mut String, clause: &str, value: Bind<'a>| {
        binds.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
    };
    if let Some(actor) = &filter.actor {
        clause(&mut sql, " AND actor = ?", Bind::Text(actor));
    }
    if let Some(action) = &filter.action {
        clause(&mut sql, " AND action = ?", Bind::Text(action));
    }
    if let Some(from) = filter.from {
        clause(&mut sql, " AND at >= ?", Bind::Int(from));
    }
    if let Some(until) = filter.until {
        clause(&mut sql, " AND at < ?", Bind::Int(until));
    }
    if let Some(before) = before {
        binds.extend([Bind::Int(before.at), Bind::Int(before.id)]);
        let n = binds.len();
        sql.push_str(&format!(" AND (at, id) < (${}, ${n})", n - 1));
    }
    // One more than asked: whether there is a next page.
    binds.push(Bind::Int(limit + 1));
    sql.push_str(&format!(
        " ORDER BY at DESC, id DESC LIMIT ${}",
        binds.len()
    ));

    // A page is a short index range (`read_all`); the export's long read
    // goes through the pool.
    let mut entries: Vec<AuditEntry> = if limit <= PAGE_SIZE {
        db.read_all(&sql, &binds).await?
    } else {
        query_as_with(&sql, &binds).fetch_all(&db.pool).await?
    };
    let next_before = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(Position::of)
    } else {
        None
    };
    Ok(AuditPage {
        entries,
        next_before,
    })
}

impl FromSqliteRow for AuditEntry {
    fn from_sqlite(row: &rusqlite::Row) -> rusqlite::Result<Self> {
        Ok(AuditEntry {
            id: row.get(0)?,
            at: row.get(1)?,
            actor_kind: row.get(2)?,
            actor: row.get(3)?,
            action: row.get(4)?,
            object: row.get(5)?,
            detail: row.get(6)?,
            client_ip: row.get(7)?,
        })
    }
}

/// Deletes entries older than `retention_days`; returns how many.
pub async fn prune(db: &Db, retention_days: u32, now: i64) -> Result<u64> {
    let cutoff = now - i64::from(retention_days) * 86_400;
    Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(cutoff)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_parses_back_from_its_name() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
    }
}
