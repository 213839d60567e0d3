//! What the Analytics page, its downloads and the analytics API show:
//! the per-agent table's view and rows, the charts' data, the page's URL.

use serde::{Deserialize, Serialize};

use super::AgentStatus;

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
            filter: q
                .unwrap_or_default()
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect(),
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
    /// A fall is the good news (refusals), so it is coloured as such.
    pub lower_is_better: bool,
}

/// The Agents page's list.
pub const AGENTS_PER_PAGE: usize = 50;
/// The Analytics page's per-agent table: it sits below both charts, so its
/// rows are never on the first screen; fewer of them keep the page light (the
/// pager and the CSV reach every row, without JavaScript).
pub const USAGE_ROWS_PER_PAGE: usize = 25;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    /// `2026-11-25`
    pub date: String,
    /// `Wed, Nov 25`
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendData {
    /// Oldest first; the last point is today, still counting.
    pub current: Vec<TrendPoint>,
    /// The same number of days just before, aligned by position.
    pub previous: Vec<TrendPoint>,
    pub compare: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeatmapData {
    pub zone: String,
    /// 7 rows (Sunday first) of 24 hours.
    pub cells: Vec<Vec<u64>>,
}

/// Day names for the heatmap and the activity API, Sunday first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
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
