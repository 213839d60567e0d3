//! This month's per-agent table: filtered, sorted and paged in SQL.

use sqlx::FromRow;

use crate::domain::{tenants, time_zones, Db, Result};
use crate::model::analytics::{AgentSort, AgentTableView, AgentUsageRow};
use crate::model::AgentStatus;

#[derive(Debug, Clone)]
pub struct AgentsMonth {
    /// "2026-11", in the tenant's zone.
    pub month: String,
    pub zone: String,
    /// The requested page of the table, in the requested order.
    pub agents: Vec<AgentUsageRow>,
    /// Rows matching the filter (all pages).
    pub matching: usize,
    /// Rows without the filter: every live agent, and decommissioned ones
    /// with usage this month.
    pub total: usize,
}

/// A page of the table: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

/// One row of the month's table, with the count of all matching rows.
#[derive(FromRow)]
struct MonthRow {
    id: String,
    name: String,
    agent_type: String,
    #[sqlx(try_from = "String")]
    status: AgentStatus,
    last_token_at: Option<i64>,
    tokens_issued: Option<i64>,
    api_calls: Option<i64>,
    refused: Option<i64>,
    last_at: Option<i64>,
    matching: i64,
}

impl From<MonthRow> for AgentUsageRow {
    fn from(r: MonthRow) -> Self {
        let count = |n: Option<i64>| n.unwrap_or(0) as u64;
        AgentUsageRow {
            id: r.id,
            name: r.name,
            agent_type: r.agent_type,
            status: r.status,
            tokens_issued: count(r.tokens_issued),
            api_calls: count(r.api_calls),
            refused: count(r.refused),
            last_activity_at: r.last_at.or(r.last_token_at),
        }
    }
}

const IN_TABLE: &str = "FROM agents a LEFT JOIN usage_agent_month m \
     ON m.tenant_id = a.tenant_id AND m.month = $2 AND m.agent_id = a.id \
     WHERE a.tenant_id = $1 AND (a.status <> 'decommissioned' OR m.agent_id IS NOT NULL)";

/// The per-agent table of the current month, filtered by name, sorted (ties
/// by name) and paged in SQL: a page of a 1,000-agent tenant ships 50 rows.
/// Read at most once a second per view while nothing is written.
pub async fn agents_this_month(
    db: &Db,
    tenant_id: &str,
    now: i64,
    view: &AgentTableView,
    page: Option<Page>,
) -> Result<AgentsMonth> {
    let key = format!(
        "month {:?} {} {:?} {:?}",
        view.sort,
        view.descending,
        view.filter,
        page.map(|p| (p.offset, p.limit))
    );
    let read = db
        .recent
        .get_or_read(tenant_id, key, now, || {
            read_agents_this_month(db, tenant_id, now, view, page)
        })
        .await?;
    Ok(AgentsMonth::clone(&read))
}

async fn read_agents_this_month(
    db: &Db,
    tenant_id: &str,
    now: i64,
    view: &AgentTableView,
    page: Option<Page>,
) -> Result<AgentsMonth> {
    let tenant = tenants::get(db, tenant_id).await?;
    let zone = time_zones::stored(&tenant.time_zone);
    let month = time_zones::month_label(time_zones::local_date(now, &zone));
    let order = match view.sort {
        AgentSort::Name => "lower(a.name)",
        AgentSort::Type => "a.agent_type",
        AgentSort::Status => "a.status",
        AgentSort::Tokens => "COALESCE(m.tokens_issued, 0)",
        AgentSort::ApiCalls => "COALESCE(m.api_calls, 0)",
        AgentSort::Refused => "COALESCE(m.refused, 0)",
        AgentSort::LastActivity => "COALESCE(m.last_at, a.last_token_at, 0)",
    };
    let direction = if view.descending { "DESC" } else { "ASC" };
    let limit = page
        .map(|p| format!(" LIMIT {} OFFSET {}", p.limit, p.offset))
        .unwrap_or_default();
    let pattern = format!(
        "%{}%",
        view.filter
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows: Vec<MonthRow> = sqlx::query_as(&format!(
        "SELECT a.id, a.name, a.agent_type, a.status, a.last_token_at, \
                m.tokens_issued, m.api_calls, m.refused, m.last_at, COUNT(*) OVER () AS matching \
         {IN_TABLE} AND lower(a.name) LIKE $3 ESCAPE '\\' \
         ORDER BY {order} {direction}, lower(a.name), a.id{limit}"
    ))
    .bind(tenant_id)
    .bind(&month)
    .bind(&pattern)
    .fetch_all(&db.pool)
    .await?;
    let mut matching = rows.first().map_or(0, |r| r.matching as usize);
    let agents: Vec<AgentUsageRow> = rows.into_iter().map(AgentUsageRow::from).collect();
    if agents.is_empty() && page.is_some_and(|p| p.offset > 0) {
        // Past the last page: the count still says how many there are.
        matching = count_rows(db, tenant_id, &month, Some(&pattern)).await?;
    }
    let total = if view.filter.is_empty() {
        matching
    } else {
        count_rows(db, tenant_id, &month, None).await?
    };
    Ok(AgentsMonth {
        month,
        zone: zone.iana_name().unwrap_or("UTC").to_owned(),
        agents,
        matching,
        total,
    })
}

async fn count_rows(db: &Db, tenant_id: &str, month: &str, pattern: Option<&str>) -> Result<usize> {
    let filter = if pattern.is_some() {
        " AND lower(a.name) LIKE $3 ESCAPE '\\'"
    } else {
        ""
    };
    let sql = format!("SELECT COUNT(*) {IN_TABLE}{filter}");
    let mut query = sqlx::query_scalar::<_, i64>(&sql)
        .bind(tenant_id)
        .bind(month);
    if let Some(pattern) = pattern {
        query = query.bind(pattern);
    }
    Ok(query.fetch_one(&db.pool).await? as usize)
}
