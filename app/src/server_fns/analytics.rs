use std::sync::Arc;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::analytics::{
    analytics_href, AgentTableView, AgentUsageRow, AnalyticsQuery, HeatmapData, SummaryCard,
    TrendData,
};

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

/// Far past any table's end; keeps the offset arithmetic in range.
#[cfg(feature = "ssr")]
const MAX_PAGE: usize = 1_000_000;

#[server]
pub async fn analytics_view(
    query: AnalyticsQuery,
) -> Result<Arc<AnalyticsPageData>, ServerFnError> {
    use super::ssr::{context, failed};

    let (member, services) = context()?;
    let now = services.clock.now();
    // Every busy request of this second asks the same: it is built once and
    // shared (`RecentReads`), which also lets the page's render memo know it
    // by identity instead of by comparing it whole.
    let view = format!("analytics-page:{query:?}:{}", member.can_manage());
    services
        .db
        .recent
        .get_or_read(&member.tenant_id, view, now, || {
            page_data(&member, &services, query, now)
        })
        .await
        .map_err(failed)
}

#[cfg(feature = "ssr")]
async fn page_data(
    member: &crate::model::CurrentMember,
    services: &crate::domain::Services,
    query: AnalyticsQuery,
    now: i64,
) -> crate::domain::Result<AnalyticsPageData> {
    use crate::domain::analytics::{self, DEFAULT_DAYS};
    use crate::model::analytics::{TrendPoint, USAGE_ROWS_PER_PAGE};

    let (days, days_note) = match analytics::parse_days(query.days.as_deref()) {
        Ok(days) => (days, None),
        Err(e) => (
            DEFAULT_DAYS,
            Some(format!("Showing {DEFAULT_DAYS} days: {e}.")),
        ),
    };
    let overview = analytics::overview(&services.db, &member.tenant_id, days, now).await?;
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
        lower_is_better: key == "refused",
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
        .clamp(1, MAX_PAGE);
    let page_of = |page: usize| analytics::Page {
        offset: (page - 1) * USAGE_ROWS_PER_PAGE,
        limit: USAGE_ROWS_PER_PAGE,
    };
    let mut month = analytics::agents_this_month(
        &services.db,
        &member.tenant_id,
        now,
        &table,
        Some(page_of(wanted)),
    )
    .await?;
    let pages = month.matching.div_ceil(USAGE_ROWS_PER_PAGE).max(1);
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
        .await?;
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
        can_manage: member.can_manage(),
        public_url: services.public_url.clone(),
        now,
    })
}
