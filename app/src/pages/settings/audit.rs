use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::data_table::data_table;
use crate::components::format::utc_time;
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::rendered::{ByIdentity, RenderMemo};
use crate::model::audit::{AuditEntry, AuditListing, AuditQuery};
use crate::model::AuditAction;
use crate::server_fns::audit::{audit_overview, AuditPageData};

/// `/settings/audit`: who changed what, newest first; a GET form filters,
/// `before` pages back, the CSV has every match.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map().with_untracked(|q| AuditQuery {
        actor: q.get("actor"),
        action: q.get("action"),
        from: q.get("from"),
        to: q.get("to"),
        before: q.get("before"),
    });
    let data = move || audit_overview(query.clone());
    view! {
        <AppShell title="Audit trail">
            {loaded(data, "Loading the audit trail…", |d| view! { <AuditView data=d /> })}
        </AppShell>
    }
}

#[component]
fn AuditView(data: AuditPageData) -> impl IntoView {
    let q = data.query.clone();
    let listing = data.listing;
    let selected = |v: &Option<String>, option: &str| v.as_deref() == Some(option);
    let actor_options = listing
        .actors
        .iter()
        .map(|a| view! { <option value=a.clone()></option> })
        .collect_view();
    let action_options = AuditAction::ALL
        .iter()
        .map(|a| {
            view! {
                <option value=a.as_str() selected=selected(&q.action, a.as_str())>
                    {a.label()}
                </option>
            }
        })
        .collect_view();
    let params = q.filter_params();
    let with = |extra: String| {
        let joined = [params.as_str(), extra.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("&");
        if joined.is_empty() {
            String::new()
        } else {
            format!("?{joined}")
        }
    };
    let csv = format!("/settings/audit/export.csv{}", with(String::new()));
    let older = listing.page.next_before.clone().map(|before| {
        view! {
            <a
                class="button"
                href=format!("/settings/audit{}", with(format!("before={before}")))
                rel="next"
            >
                "Older entries →"
            </a>
        }
    });
    let newest = q.before.as_deref().filter(|b| !b.is_empty()).map(|_| {
        view! {
            <a class="button" href=format!("/settings/audit{}", with(String::new()))>
                "← Newest"
            </a>
        }
    });
    let empty = listing.page.entries.is_empty().then(|| {
        view! {
            <p class="muted" data-testid="audit-empty">
                "Nothing matches these filters."
            </p>
        }
    });
    let rows = AUDIT_ROWS.view(ByIdentity(listing), |listing| {
        listing.0.page.entries.iter().map(entry_row).collect_view()
    });
    view! {
        <form method="get" action="/settings/audit" class="panel audit-filters" role="search">
            <label>
                "Actor "
                <input
                    type="text"
                    name="actor"
                    list="audit-actors"
                    placeholder="Anyone"
                    value=q.actor.clone().unwrap_or_default()
                /> <datalist id="audit-actors">{actor_options}</datalist>
            </label>
            <label>
                "Action " <select name="action">
                    <option value="">"Any action"</option>
                    {action_options}
                </select>
            </label>
            <label>
                "From " <input type="date" name="from" value=q.from.clone().unwrap_or_default() />
            </label>
            <label>
                "To " <input type="date" name="to" value=q.to.clone().unwrap_or_default() />
            </label>
            <button type="submit" class="button">
                "Filter"
            </button>
            <a class="button button-quiet" href="/settings/audit">
                "Clear"
            </a>
            <a class="button" href=csv download data-testid="audit-csv">
                "Export CSV"
            </a>
        </form>
        {data_table(
            Some("audit"),
            &["When (UTC)", "Who", "What", "Object", "Details", "From"],
            rows,
        )}
        {empty}
        <nav class="pager" aria-label="Audit pages">
            {newest}
            {older}
        </nav>
    }
}

/// A page of entries is rendered once per listing (shared while the trail
/// has not grown, see `audit::listing_recent`) and its HTML reused: a row
/// shows nothing but its entry (its time in UTC, not "ago").
static AUDIT_ROWS: RenderMemo<ByIdentity<AuditListing>> = RenderMemo::new();

fn entry_row(e: &AuditEntry) -> impl IntoView {
    let action = AuditAction::parse(&e.action)
        .map(|a| a.label().to_owned())
        .unwrap_or_else(|| e.action.clone());
    let who = match e.actor_kind.as_str() {
        "member" | "visitor" | "operator" => e.actor.clone(),
        "unauthenticated" => "Unauthenticated attempt".to_owned(),
        kind => format!("{} ({kind})", e.actor),
    };
    view! {
        <tr data-testid="audit-row" data-action=e.action.clone()>
            <td class="when">{utc_time(e.at)}</td>
            <td>{who}</td>
            <td>{action}</td>
            <td>{e.object.clone()}</td>
            <td>{e.detail.clone()}</td>
            <td>{e.client_ip.clone()}</td>
        </tr>
    }
}
