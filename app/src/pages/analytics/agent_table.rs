//! This month's usage by agent: sortable, filterable, paged; plain links,
//! so it works without JavaScript.

use std::sync::Arc;

use leptos::prelude::*;

use crate::components::format::{last_seen, thousands};
use crate::components::pager::pager;
use crate::components::status_badge::status_badge;
use crate::model::analytics::{AgentSort, AgentTableView};
use crate::server_fns::analytics::AnalyticsPageData;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn month_title(month: &str) -> String {
    let (year, m) = month.split_once('-').unwrap_or((month, "1"));
    let name = m
        .parse::<usize>()
        .ok()
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .copied()
        .unwrap_or("");
    format!("{name} {year}")
}

#[component]
pub(super) fn AgentUsageTable(data: Arc<AnalyticsPageData>) -> impl IntoView {
    let heads = AgentSort::ALL
        .iter()
        .map(|&sort| {
            let active = data.table.sort == sort;
            let descending = if active {
                !data.table.descending
            } else {
                sort.default_descending()
            };
            let view_next = AgentTableView {
                sort,
                descending,
                filter: data.table.filter.clone(),
            };
            let href = data.href(data.days, data.compare, &view_next, 1);
            let aria_sort = active.then_some(if data.table.descending {
                "descending"
            } else {
                "ascending"
            });
            let mark = if active {
                if data.table.descending {
                    " ↓"
                } else {
                    " ↑"
                }
            } else {
                ""
            };
            let numeric = !matches!(
                sort,
                AgentSort::Name | AgentSort::Type | AgentSort::Status | AgentSort::LastActivity
            );
            view! {
                <th scope="col" aria-sort=aria_sort class:num=numeric>
                    <a href=href data-testid=format!("sort-{}", sort.key())>
                        {sort.label()}
                        {mark}
                    </a>
                </th>
            }
        })
        .collect_view();
    let now = data.now;
    let rows = data
        .rows
        .iter()
        .map(|r| {
            let (last, last_title) = last_seen(r.last_activity_at, now, "—");
            view! {
                <tr data-testid="agent-usage-row" data-agent-id=r.id.clone()>
                    <td>
                        <a href=format!("/agents/{}", r.id)>{r.name.clone()}</a>
                    </td>
                    <td>{r.agent_type.clone()}</td>
                    <td>{status_badge(r.status)}</td>
                    <td class="num" data-col="tokens">
                        {thousands(r.tokens_issued)}
                    </td>
                    <td class="num" data-col="api_calls">
                        {thousands(r.api_calls)}
                    </td>
                    <td class="num" data-col="refused">
                        {thousands(r.refused)}
                    </td>
                    <td title=last_title>{last}</td>
                </tr>
            }
        })
        .collect_view();
    let empty = data.rows.is_empty().then(|| {
        let text = if data.table.filter.is_empty() {
            "No agents yet.".to_owned()
        } else {
            format!("No agent name contains {:?}.", data.table.filter)
        };
        view! {
            <tr>
                <td colspan="7" class="muted">
                    {text}
                </td>
            </tr>
        }
    });
    let pager = pager("Agent pages", data.page, data.pages, &|page| {
        data.href(data.days, data.compare, &data.table, page)
    });
    let counted = if data.matching == data.all_agents {
        format!("{} agents", thousands(data.all_agents as u64))
    } else {
        format!(
            "{} of {} agents",
            thousands(data.matching as u64),
            thousands(data.all_agents as u64)
        )
    };
    view! {
        <section class="panel">
            <div class="panel-head">
                <h2>{format!("Usage by agent — {}", month_title(&data.month))}</h2>
                <form method="get" action="/analytics" class="inline-form" role="search">
                    <input type="hidden" name="days" value=data.days />
                    {data
                        .compare
                        .then(|| view! { <input type="hidden" name="compare" value="1" /> })}
                    <input type="hidden" name="sort" value=data.table.sort.key() />
                    <input
                        type="hidden"
                        name="dir"
                        value=if data.table.descending { "desc" } else { "asc" }
                    />
                    <label class="visually-hidden" for="agent-filter">
                        "Filter agents by name"
                    </label>
                    <input
                        id="agent-filter"
                        type="search"
                        name="q"
                        value=data.table.filter.clone()
                        placeholder="Filter by name"
                    />
                    <button type="submit" class="button button-quiet">
                        "Filter"
                    </button>
                </form>
            </div>
            <p class="muted">
                {counted}" · calendar month in "{data.zone.clone()}
                " · decommissioned agents appear when they were used this month"
            </p>
            <div class="table-scroll">
                <table class="data-table" data-testid="agent-usage-table">
                    <thead>
                        <tr>{heads}</tr>
                    </thead>
                    <tbody>{rows}{empty}</tbody>
                </table>
            </div>
            {pager}
        </section>
    }
}
