use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::charts::{heat_cell_text, ActivityHeatmap, ChartPanel, TrendChart};
use crate::components::format::{change, thousands};
use crate::components::islands::LazyIslandScripts;
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::rendered::{ByIdentity, RenderMemo};
use crate::model::analytics::{analytics_href, AnalyticsQuery};
use crate::model::forms::TimeZoneFormState;
use crate::server_fns::analytics::{analytics_view, AnalyticsPageData};

mod agent_table;
mod time_zone;

use agent_table::AgentUsageTable;
use time_zone::TimeZoneSetting;

const RANGES: [u32; 3] = [7, 30, 90];
/// Everything below the title (range, cards, charts, agent table, time
/// zone): a function of the page data alone (which carries the time for "5
/// min ago") and of the chart shown as a table.
static ANALYTICS_VIEW: RenderMemo<(ByIdentity<AnalyticsPageData>, Option<&'static str>)> =
    RenderMemo::new();
/// The charts whose table the URL can ask for (`?table=trend`).
const TABLES: [&str; 2] = ["trend", "heatmap"];

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    let table = use_query_map().with_untracked(|m| {
        m.get("table")
            .and_then(|t| TABLES.into_iter().find(|known| *known == t))
    });
    let query = use_query_map().with_untracked(|m| AnalyticsQuery {
        days: m.get("days"),
        compare: m.get("compare").is_some_and(|v| v == "1" || v == "true"),
        sort: m.get("sort"),
        dir: m.get("dir"),
        q: m.get("q"),
        page: m.get("page"),
    });
    let data = move || analytics_view(query.clone());
    view! {
        <AppShell title="Analytics">
            {loaded(
                data,
                "Loading analytics…",
                move |d| view! { <AnalyticsView data=d table /> },
            )}
        </AppShell>
    }
}

#[component]
fn AnalyticsView(data: Arc<AnalyticsPageData>, table: Option<&'static str>) -> impl IntoView {
    ANALYTICS_VIEW.view_unless_form(
        (ByIdentity(data), table),
        use_context::<TimeZoneFormState>(),
        page_view,
    )
}

fn page_view(
    (data, table): &(ByIdentity<AnalyticsPageData>, Option<&'static str>),
    time_zone_form: Option<TimeZoneFormState>,
) -> impl IntoView {
    let (data, table) = (&data.0, *table);
    let range = RANGES
        .iter()
        .map(|&days| {
            let href = data.href(days, data.compare, &data.table, 1);
            let current = data.days == days;
            view! {
                <a
                    href=href
                    class="segment"
                    aria-current=current.then_some("true")
                    data-testid=format!("range-{days}")
                >
                    {format!("{days} days")}
                </a>
            }
        })
        .collect_view();
    let exports = {
        let daily = analytics_href(
            "/analytics/export/daily.csv",
            data.days,
            data.compare,
            &data.table,
            1,
        );
        let agents = analytics_href(
            "/analytics/export/agents.csv",
            data.days,
            false,
            &data.table,
            1,
        );
        view! {
            <div class="export-links">
                <a class="button button-quiet" href=daily download data-testid="export-daily">
                    "Export daily CSV"
                </a>
                <a class="button button-quiet" href=agents download data-testid="export-agents">
                    "Export agents CSV"
                </a>
            </div>
        }
    };
    let note = data.days_note.clone().map(|n| {
        view! {
            <p class="notice" role="status">
                {n}
            </p>
        }
    });
    let period = format!(
        "{} to {} ({}), compared with the {} days before",
        data.first_date, data.today, data.zone, data.days
    );
    let time_zone = view! { <TimeZoneSetting zone=data.zone.clone() can_manage=data.can_manage state=time_zone_form /> };
    let body = if data.ever_used {
        view! { <UsageViews data=data.clone() table /> }.into_any()
    } else {
        view! { <EmptyState public_url=data.public_url.clone() /> }.into_any()
    };
    view! {
        <div class="toolbar analytics-toolbar">
            <nav class="segmented" aria-label="Range">
                {range}
            </nav>
            <p class="muted period" data-testid="period">
                {period}
            </p>
            {exports}
        </div>
        {note}
        {body}
        {time_zone}
        <LazyIslandScripts />
    }
}

#[component]
fn EmptyState(public_url: String) -> impl IntoView {
    let example = format!(
        "curl -u \"$CLIENT_ID:$CLIENT_SECRET\" \\\n  -d grant_type=client_credentials \\\n  {public_url}/api/v1/token"
    );
    view! {
        <section class="empty-state" data-testid="analytics-empty">
            <h2>"No usage yet"</h2>
            <p>
                "Your agents have not requested a token or called the API yet. Once they do, this page shows the trend, the busiest hours and each agent's usage."
            </p>
            <ol>
                <li>
                    <a href="/agents">"Create an agent"</a>
                    " and copy its client secret (it is shown once)."
                </li>
                <li>"Ask for a token with the client-credentials grant:"</li>
            </ol>
            <pre class="code-block">
                <code>{example}</code>
            </pre>
        </section>
    }
}

#[component]
fn UsageViews(data: Arc<AnalyticsPageData>, table: Option<&'static str>) -> impl IntoView {
    let here = data.href(data.days, data.compare, &data.table, data.page);
    // Shown: a link back without it; else a link to this view with it.
    let table_href = |id: &str| {
        if table == Some(id) {
            format!("{here}#{id}-table")
        } else {
            format!("{here}&table={id}#{id}-table")
        }
    };
    let cards = data
        .cards
        .iter()
        .map(|c| {
            let delta = change(c.value, c.previous);
            let direction = if c.value > c.previous {
                "up"
            } else if c.value < c.previous {
                "down"
            } else {
                "same"
            };
            let arrow = match direction {
                "up" => "▲ ",
                "down" => "▼ ",
                _ => "",
            };
            // Green for good news, red for bad: fewer refusals is good.
            let verdict = match (direction, c.lower_is_better) {
                ("up", false) | ("down", true) => " better",
                ("up", true) | ("down", false) => " worse",
                _ => "",
            };
            view! {
                <div class="card stat-card" data-testid=format!("card-{}", c.key)>
                    <p class="stat-label">{c.label.clone()}</p>
                    <p class="stat-value" data-testid="value">
                        {thousands(c.value)}
                    </p>
                    <p class=format!(
                        "stat-change {direction}{verdict}",
                    )>
                        {arrow}{delta}
                        <span class="muted">
                            {format!(" vs previous {} days ({})", data.days, thousands(c.previous))}
                        </span>
                    </p>
                </div>
            }
        })
        .collect_view();

    let trend = data.trend.clone();
    let total: u64 = trend.current.iter().map(|p| p.count).sum();
    let peak = trend.current.iter().max_by_key(|p| p.count);
    let today = trend.current.last().map(|p| p.count).unwrap_or(0);
    let trend_summary = format!(
        "Tokens issued per day over the last {} days: {} in total{}, {} so far today.",
        data.days,
        thousands(total),
        peak.filter(|p| p.count > 0)
            .map(|p| format!(", most on {} ({})", p.label, thousands(p.count)))
            .unwrap_or_default(),
        thousands(today)
    );
    let trend_table = (table == Some("trend")).then(|| {
        let trend_rows = trend
            .current
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let previous = trend.previous.get(i).map(|q| {
                    view! {
                        <td>{q.label.clone()}</td>
                        <td class="num">{thousands(q.count)}</td>
                    }
                });
                view! {
                    <tr>
                        <td>
                            {p.date.clone()}
                            {(i + 1 == trend.current.len()).then_some(" (today, so far)")}
                        </td>
                        <td class="num">{thousands(p.count)}</td>
                        {data.compare.then_some(previous)}
                    </tr>
                }
            })
            .collect_view();
        let previous_heads = data.compare.then(|| {
            view! {
                <th scope="col">"Previous period"</th>
                <th scope="col" class="num">
                    "Tokens"
                </th>
            }
        });
        view! {
            <table class="data-table" data-testid="trend-table">
                <thead>
                    <tr>
                        <th scope="col">"Date"</th>
                        <th scope="col" class="num">
                            "Tokens"
                        </th>
                        {previous_heads}
                    </tr>
                </thead>
                <tbody>{trend_rows}</tbody>
            </table>
        }
        .into_any()
    });
    let compare_href = data.href(data.days, true, &data.table, data.page);
    let plain_href = data.href(data.days, false, &data.table, data.page);

    let heat_total: u64 = data.heatmap.cells.iter().flatten().sum();
    let busiest = data
        .heatmap
        .cells
        .iter()
        .enumerate()
        .flat_map(|(d, row)| row.iter().enumerate().map(move |(h, &c)| (d, h, c)))
        .max_by_key(|&(_, _, c)| c)
        .filter(|&(_, _, c)| c > 0);
    let heat_summary = format!(
        "Agent activity (tokens issued and API calls) by weekday and hour over the last {} days, in {}: {} requests{}.",
        data.days,
        data.zone,
        thousands(heat_total),
        busiest
            .map(|(d, h, c)| format!("; busiest hour {}", heat_cell_text(d, h, c)))
            .unwrap_or_default()
    );
    let (trend_data, heatmap) = (data.trend.clone(), data.heatmap.clone());
    let heat_table = (table == Some("heatmap")).then(|| {
        let heat_rows = data
            .heatmap
            .cells
            .iter()
            .enumerate()
            .map(|(d, row)| {
                let cells = row
                    .iter()
                    .map(|c| view! { <td class="num">{thousands(*c)}</td> })
                    .collect_view();
                view! {
                    <tr>
                        <th scope="row">{crate::model::analytics::WEEKDAY_NAMES[d]}</th>
                        {cells}
                    </tr>
                }
            })
            .collect_view();
        let hour_heads = (0..24)
            .map(|h| {
                view! {
                    <th scope="col" class="num">
                        {format!("{h:02}")}
                    </th>
                }
            })
            .collect_view();
        view! {
            <div class="table-scroll">
                <table class="data-table compact" data-testid="heatmap-table">
                    <thead>
                        <tr>
                            <th scope="col">"Day"</th>
                            {hour_heads}
                        </tr>
                    </thead>
                    <tbody>{heat_rows}</tbody>
                </table>
            </div>
        }
        .into_any()
    });

    view! {
        <section class="stat-cards" aria-label="Summary">
            {cards}
        </section>

        <ChartPanel
            id="trend"
            title="Token issuance"
            summary=trend_summary
            table=trend_table
            table_href=table_href("trend")
        >
            <TrendChart trend=trend_data compare_href plain_href />
        </ChartPanel>
        <ChartPanel
            id="heatmap"
            title="Activity by weekday and hour"
            summary=heat_summary
            table=heat_table
            table_href=table_href("heatmap")
        >
            <ActivityHeatmap heatmap />
        </ChartPanel>

        <AgentUsageTable data />
    }
}
