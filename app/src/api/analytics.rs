use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::components::charts::{HeatmapData, TrendData};
use crate::model::AgentStatus;

/// The page's URL parameters, as typed: bad values fall back to defaults with
/// a note rather than an error page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsQuery {
    pub days: Option<String>,
    pub compare: bool,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub q: Option<String>,
    pub page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentSort {
    Name,
    Type,
    Status,
    Tokens,
    ApiCalls,
    Refused,
    LastActivity,
}

impl AgentSort {
    pub const ALL: [AgentSort; 7] = [
        AgentSort::Name,
        AgentSort::Type,
        AgentSort::Status,
        AgentSort::Tokens,
        AgentSort::ApiCalls,
        AgentSort::Refused,
        AgentSort::LastActivity,
    ];

    pub fn key(self) -> &'static str {
        match self {
            AgentSort::Name => "name",
            AgentSort::Type => "type",
            AgentSort::Status => "status",
            AgentSort::Tokens => "tokens",
            AgentSort::ApiCalls => "api_calls",
            AgentSort::Refused => "refused",
            AgentSort::LastActivity => "last_activity",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AgentSort::Name => "Agent",
            AgentSort::Type => "Type",
            AgentSort::Status => "Status",
            AgentSort::Tokens => "Tokens",
            AgentSort::ApiCalls => "API calls",
            AgentSort::Refused => "Refused",
            AgentSort::LastActivity => "Last activity",
        }
    }

    pub fn parse(key: &str) -> Option<AgentSort> {
        AgentSort::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Numbers read best biggest first, words A to Z.
    pub fn default_descending(self) -> bool {
        !matches!(self, AgentSort::Name | AgentSort::Type | AgentSort::Status)
    }
}

/// The per-agent table's view: sort, direction and name filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTableView {
    pub sort: AgentSort,
    pub descending: bool,
    pub filter: String,
}

impl AgentTableView {
    pub fn from_params(sort: Option<&str>, dir: Option<&str>, q: Option<&str>) -> Self {
        let sort = sort.and_then(AgentSort::parse).unwrap_or(AgentSort::Tokens);
        let descending = match dir {
            Some("asc") => false,
            Some("desc") => true,
            _ => sort.default_descending(),
        };
        AgentTableView {
            sort,
            descending,
            filter: q.unwrap_or_default().trim().chars().take(100).collect(),
        }
    }
}

/// One agent's usage in the current month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUsageRow {
    pub id: String,
    pub name: String,
    pub agent_type: String,
    pub status: AgentStatus,
    pub tokens_issued: u64,
    pub api_calls: u64,
    pub refused: u64,
    /// Latest counted request (this month), else the latest token ever.
    pub last_activity_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryCard {
    pub key: String,
    pub label: String,
    pub value: u64,
    pub previous: u64,
}

pub const AGENTS_PER_PAGE: usize = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsPageData {
    pub days: u32,
    /// Why the URL's `days` was not used, if it was not.
    pub days_note: Option<String>,
    pub compare: bool,
    pub zone: String,
    pub first_date: String,
    pub today: String,
    pub ever_used: bool,
    pub cards: Vec<SummaryCard>,
    pub trend: TrendData,
    pub heatmap: HeatmapData,
    /// "2026-11"
    pub month: String,
    pub table: AgentTableView,
    /// This page of the filtered, sorted table.
    pub rows: Vec<AgentUsageRow>,
    pub matching: usize,
    pub all_agents: usize,
    pub page: usize,
    pub pages: usize,
    pub can_manage: bool,
    pub public_url: String,
    pub now: i64,
}

impl AnalyticsPageData {
    /// This view's URL with some parameters changed.
    pub fn href(&self, days: u32, compare: bool, table: &AgentTableView, page: usize) -> String {
        analytics_href("/analytics", days, compare, table, page)
    }
}

pub fn analytics_href(
    path: &str,
    days: u32,
    compare: bool,
    table: &AgentTableView,
    page: usize,
) -> String {
    let mut params = vec![format!("days={days}")];
    if compare {
        params.push("compare=1".into());
    }
    let default = AgentTableView::from_params(None, None, None);
    if table.sort != default.sort || table.descending != table.sort.default_descending() {
        params.push(format!("sort={}", table.sort.key()));
        params.push(format!(
            "dir={}",
            if table.descending { "desc" } else { "asc" }
        ));
    }
    if !table.filter.is_empty() {
        params.push(format!(
            "q={}",
            percent_encoding::utf8_percent_encode(
                &table.filter,
                percent_encoding::NON_ALPHANUMERIC
            )
        ));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    format!("{path}?{}", params.join("&"))
}

#[server]
pub async fn analytics_view(query: AnalyticsQuery) -> Result<AnalyticsPageData, ServerFnError> {
    use super::ssr::{context, internal};
    use crate::components::charts::TrendPoint;
    use crate::domain::analytics::{self, DEFAULT_DAYS};

    let (member, services) = context()?;
    let now = services.clock.now();
    let (days, days_note) = match analytics::parse_days(query.days.as_deref()) {
        Ok(days) => (days, None),
        Err(e) => (
            DEFAULT_DAYS,
            Some(format!("Showing {DEFAULT_DAYS} days: {e}.")),
        ),
    };
    let overview = analytics::overview(&services.db, &member.tenant_id, days, now)
        .await
        .map_err(internal)?;
    let point = |d: &analytics::DailyUsage| TrendPoint {
        date: d.date.to_string(),
        label: d.date.strftime("%a, %b %-d").to_string(),
        count: d.counts.tokens_issued as u64,
    };
    let trend = TrendData {
        current: overview.current.iter().map(point).collect(),
        previous: overview.previous.iter().map(point).collect(),
        compare: query.compare,
    };
    let heatmap = HeatmapData {
        zone: overview.window.zone_name(),
        cells: overview.heatmap.iter().map(|r| r.to_vec()).collect(),
    };
    let (t, p) = (overview.totals, overview.previous_totals);
    let card = |key: &str, label: &str, value: u64, previous: u64| SummaryCard {
        key: key.into(),
        label: label.into(),
        value,
        previous,
    };
    let cards = vec![
        card("tokens", "Tokens issued", t.tokens_issued, p.tokens_issued),
        card("api_calls", "API calls", t.api_calls, p.api_calls),
        card(
            "active_agents",
            "Active agents",
            t.active_agents,
            p.active_agents,
        ),
        card("refused", "Refused for quota", t.refused, p.refused),
    ];

    let table = AgentTableView::from_params(
        query.sort.as_deref(),
        query.dir.as_deref(),
        query.q.as_deref(),
    );
    let wanted = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let page_of = |page: usize| analytics::Page {
        offset: (page - 1) * AGENTS_PER_PAGE,
        limit: AGENTS_PER_PAGE,
    };
    let mut month = analytics::agents_this_month(
        &services.db,
        &member.tenant_id,
        now,
        &table,
        Some(page_of(wanted)),
    )
    .await
    .map_err(internal)?;
    let pages = month.matching.div_ceil(AGENTS_PER_PAGE).max(1);
    let page = wanted.min(pages);
    if page != wanted {
        // Past the end (a stale link): show the last page.
        month = analytics::agents_this_month(
            &services.db,
            &member.tenant_id,
            now,
            &table,
            Some(page_of(page)),
        )
        .await
        .map_err(internal)?;
    }
    let rows = month.agents;

    Ok(AnalyticsPageData {
        days,
        days_note,
        compare: query.compare,
        zone: overview.window.zone_name(),
        first_date: overview.window.first.to_string(),
        today: overview.window.today.to_string(),
        ever_used: overview.ever_used,
        cards,
        trend,
        heatmap,
        month: month.month,
        table,
        rows,
        matching: month.matching,
        all_agents: month.total,
        page,
        pages,
        can_manage: member.role.can_manage(),
        public_url: services.public_url.clone(),
        now,
    })
}
