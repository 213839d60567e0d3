use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::data_table::data_table;
use crate::components::form_field::{ResourcesField, SelectField, TextField};
use crate::components::format::{countdown, last_seen, thousands, utc_time};
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::pager::pager;
use crate::components::rendered::{ByIdentity, RenderMemo};
use crate::components::status_badge::status_badge;
use crate::model::agents::{AgentListPage, EXPIRING_WITHIN_SECS};
use crate::model::analytics::AGENTS_PER_PAGE;
use crate::model::forms::AgentFormState;
use crate::model::{Agent, AgentStatus, Environment, SecretExpiry, Tier};
use crate::server_fns::agents::{agents_overview, AgentsPageData};

#[component]
pub fn AgentsPage() -> impl IntoView {
    let query = use_query_map();
    let (q, status, page) = query.with_untracked(|m| {
        (
            m.get("q").unwrap_or_default(),
            m.get("status").unwrap_or_default(),
            m.get("page"),
        )
    });
    let data = {
        let (q, status) = (q.clone(), status.clone());
        move || agents_overview(q.clone(), status.clone(), page.clone())
    };
    view! {
        <AppShell title="Agents">
            {loaded(
                data,
                "Loading agents…",
                move |d| view! { <AgentsView data=d q=q.clone() status=status.clone() /> },
            )}
        </AppShell>
    }
}

#[component]
fn AgentsView(data: AgentsPageData, q: String, status: String) -> impl IntoView {
    let view = AgentsViewKey {
        list: ByIdentity(data.list),
        now: data.now,
        limit: data.limit,
        tier: data.tier,
        can_manage: data.can_manage,
        q,
        status,
    };
    AGENTS_VIEW.view_unless_form(view, use_context::<AgentFormState>(), agents_view)
}

/// All that the list part of `/agents` (limit, create form, filter, table,
/// pager) shows: most of its HTML, the same for every request for the page
/// of agents in this second (see `RenderMemo`).
#[derive(PartialEq, Eq, Hash)]
struct AgentsViewKey {
    list: ByIdentity<AgentListPage>,
    /// For "5 min ago".
    now: i64,
    limit: Option<u64>,
    tier: Tier,
    can_manage: bool,
    q: String,
    status: String,
}

static AGENTS_VIEW: RenderMemo<AgentsViewKey> = RenderMemo::new();

fn agents_view(data: &AgentsViewKey, form: Option<AgentFormState>) -> impl IntoView {
    let list = data.list.0.clone();
    let (q, status) = (data.q.clone(), data.status.clone());
    let limit_text = match data.limit {
        Some(limit) => format!(
            "{} of {} live agents on the {} tier",
            list.live,
            limit,
            data.tier.display_name()
        ),
        None => format!(
            "{} live agents ({} tier: no limit)",
            list.live,
            data.tier.display_name()
        ),
    };
    // After a downgrade a tenant may have more live agents than its tier
    // allows: they keep working, but no new one until it is under the limit.
    let at_limit = data
        .limit
        .filter(|l| list.live >= *l)
        .map(|l| (list.live, l));
    let total = list.total;
    let now = data.now;
    let first = (list.page - 1) * AGENTS_PER_PAGE + 1;
    let showing = match (list.agents.len(), list.matching == total) {
        (0, _) => format!("No agents match, of {}", thousands(total as u64)),
        (n, true) if n == total => format!("Showing all {} agents", thousands(total as u64)),
        (n, _) => format!(
            "Showing {}–{} of {} {}",
            thousands(first as u64),
            thousands((first + n - 1) as u64),
            thousands(list.matching as u64),
            if list.matching == total {
                "agents".to_owned()
            } else {
                format!("matching agents ({} in all)", thousands(total as u64))
            }
        ),
    };
    let pager = {
        let (q, status) = (q.clone(), status.clone());
        pager("Agent pages", list.page, list.pages, &move |page| {
            agents_href(&q, &status, page)
        })
    };
    let rows = agent_rows(&list.agents, now);
    let status_options = std::iter::once(("", "Any status"))
        .chain(AgentStatus::ALL.iter().map(|s| (s.as_str(), s.as_str())))
        .map(|(value, label)| {
            let selected = value == status;
            view! {
                <option value=value selected=selected>
                    {label}
                </option>
            }
        })
        .collect_view();
    let create = data
        .can_manage
        .then(|| view! { <CreateAgentForm form=form.clone() at_limit /> });
    let viewer_note = (!data.can_manage).then(|| {
        view! {
            <p class="notice">
                "You have view access: ask an owner or admin to register or change agents."
            </p>
        }
    });
    let table = if total == 0 {
        view! {
            <div class="empty">
                <h2>"No agents yet"</h2>
                <p>
                    "Register your first agent to get its client id and secret, then ask "
                    <code>"POST /api/v1/token"</code>" for a token."
                </p>
            </div>
        }
        .into_any()
    } else {
        view! {
            <form method="get" action="/agents" class="filters" role="search">
                <label for="q" class="visually-hidden">
                    "Search agents"
                </label>
                <input
                    id="q"
                    name="q"
                    type="search"
                    placeholder="Search by name, type, owner or id"
                    value=q.clone()
                />
                <label for="status" class="visually-hidden">
                    "Status"
                </label>
                <select id="status" name="status">
                    {status_options}
                </select>
                <button type="submit" class="button">
                    "Filter"
                </button>
            </form>
            <p class="muted small" data-testid="agents-count">
                {showing}
            </p>
            {data_table(None, &["Agent", "Type", "Environment", "Status", "Last token"], rows)}
            {pager}
        }
        .into_any()
    };
    view! {
        <p class="muted" data-testid="agent-limit">
            {limit_text}
        </p>
        {viewer_note}
        {create}
        {table}
    }
}

fn agent_rows(agents: &[Agent], now: i64) -> impl IntoView {
    agents
        .iter()
        .map(|a| {
            let href = format!("/agents/{}", a.id);
            let (last, last_title) = last_seen(a.last_token_at, now, "never");
            view! {
                <tr>
                    <td>
                        <a href=href class="strong">
                            {a.name.clone()}
                        </a>
                        <div class="muted small mono">{a.id.clone()}</div>
                    </td>
                    <td>{a.agent_type.clone()}</td>
                    <td>{a.environment.as_str()}</td>
                    <td>{status_badge(a.status)} {expiring_badge(a.secret_expires_at, now)}</td>
                    <td title=last_title data-testid="last-token">
                        {last}
                    </td>
                </tr>
            }
        })
        .collect_view()
}

/// "Secret expires in 9 days" when the current secret ends within
/// [`EXPIRING_WITHIN_SECS`] (or has ended).
fn expiring_badge(expires_at: Option<i64>, now: i64) -> Option<impl IntoView> {
    let at = expires_at.filter(|at| at - now <= EXPIRING_WITHIN_SECS)?;
    let text = if at <= now {
        "Secret expired".to_string()
    } else {
        format!("Secret expires {}", countdown(at - now))
    };
    Some(view! {
        " "
        <span class="badge badge-expiring" title=utc_time(at) data-testid="secret-expiring">
            {text}
        </span>
    })
}

/// `/agents` with the filter kept and `page` chosen.
fn agents_href(q: &str, status: &str, page: usize) -> String {
    let encode = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let mut params = Vec::new();
    for (key, value) in [("q", q), ("status", status)] {
        if !value.is_empty() {
            params.push(format!("{key}={}", encode(value)));
        }
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        "/agents".into()
    } else {
        format!("/agents?{}", params.join("&"))
    }
}

/// The create form's fields, by `name`.
const FIELDS: [&str; 6] = [
    "name",
    "agent_type",
    "version",
    "owner",
    "environment",
    "capabilities",
];

#[component]
fn CreateAgentForm(form: Option<AgentFormState>, at_limit: Option<(u64, u64)>) -> impl IntoView {
    let open = form.is_some();
    let f = form.unwrap_or_else(|| AgentFormState {
        environment: "production".into(),
        version: "1.0.0".into(),
        secret_expires: "never".into(),
        ..Default::default()
    });
    // Problems of a field show beneath it; the rest (the tier's limit) above.
    let summary = (!f.errors.is_empty()).then(|| {
        let message = f
            .errors
            .other_than(&FIELDS)
            .unwrap_or_else(|| "Check the fields marked below.".into());
        let upgrade = f.limit_reached.then(|| {
            view! {
                " "
                <a href="/settings/tier">"See your plan and upgrade"</a>
            }
        });
        view! {
            <p class="form-error" role="alert" data-testid="agent-form-error">
                {message}
                {upgrade}
            </p>
        }
    });
    let text_fields = [
        ("name", "Name", f.name, 100, None),
        (
            "agent_type",
            "Agent type",
            f.agent_type,
            50,
            Some("assistant, workflow…"),
        ),
        ("version", "Version", f.version, 30, None),
        (
            "owner",
            "Owner",
            f.owner,
            100,
            Some("team or person responsible"),
        ),
    ]
    .map(|(name, label, value, max_length, placeholder)| {
        view! {
            <TextField
                name
                label
                value
                errors=f.errors.clone()
                max_length=Some(max_length)
                placeholder
            />
        }
    })
    .collect_view();
    let limit_hint = at_limit.map(|(live, limit)| {
        let over = (live > limit).then(|| {
            format!(
                "You have {live} live agents, {} more than your tier allows; they keep working. ",
                live - limit
            )
        });
        view! {
            <p class="notice" data-testid="agent-limit-hint">
                {over}
                "Your tier's agent limit is reached. "
                <a href="/settings/tier">"Upgrade"</a>
                " or decommission an agent to register another."
            </p>
        }
    });
    view! {
        <details class="card create-agent" open=open>
            <summary class="button button-primary">"Register an agent"</summary>
            {limit_hint}
            {summary}
            <form method="post" action="/agents" class="form-grid">
                {text_fields}
                <SelectField
                    name="environment"
                    label="Environment"
                    options=Environment::ALL
                        .iter()
                        .map(|e| (e.as_str().to_owned(), e.as_str().to_owned()))
                        .collect()
                    selected=f.environment.clone()
                    errors=f.errors.clone()
                />
                <SelectField
                    name="secret_expires"
                    label="Secret expires"
                    options=SecretExpiry::ALL
                        .into_iter()
                        .map(|e| (e.as_value(), e.label()))
                        .collect()
                    selected=f.secret_expires.clone()
                    errors=f.errors.clone()
                />
                <TextField
                    name="capabilities"
                    label="Capabilities"
                    value=f.capabilities
                    errors=f.errors.clone()
                    placeholder=Some("tickets:read tickets:write")
                    help="Space-separated resource:action pairs; a token's scope must be among them."
                    wide=true
                />
                <ResourcesField value=f.resources errors=f.errors.clone() />
                <div class="span-2">
                    <button type="submit" class="button button-primary">
                        "Create agent"
                    </button>
                </div>
            </form>
        </details>
    }
}
