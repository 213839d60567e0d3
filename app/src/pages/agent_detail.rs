use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::copy_secret::SecretBox;
use crate::components::form_field::ResourcesField;
use crate::components::format::{ago, countdown, utc_time};
use crate::components::islands::LazyIslandScripts;
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::status_badge::status_badge;
use crate::model::forms::{AgentActionError, AgentResourcesForm, RevealedSecret};
use crate::model::{
    AgentStatus, AuthFailureReason, AuthFailures, Credential, Overlap, SecretExpiry,
};
use crate::server_fns::agents::{agent_detail, AgentPageData};

#[component]
pub fn AgentDetailPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    let done = use_query_map().with_untracked(|q| q.get("done"));
    let data = move || agent_detail(id.clone());
    view! {
        <AppShell title="Agent">
            <p>
                <a href="/agents">"← All agents"</a>
            </p>
            {loaded(
                data,
                "Loading…",
                move |d| match d {
                    Some(d) => view! { <AgentView data=d done=done.clone() /> }.into_any(),
                    None => {
                        #[cfg(feature = "ssr")]
                        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
                            r.set_status(http::StatusCode::NOT_FOUND);
                        }
                        view! {
                            <p class="notice" role="alert">
                                "There is no such agent in your tenant."
                            </p>
                        }
                            .into_any()
                    }
                },
            )}
        </AppShell>
    }
}

#[component]
fn AgentView(data: AgentPageData, done: Option<String>) -> impl IntoView {
    let a = data.agent;
    let now = data.now;
    let revealed = use_context::<RevealedSecret>().map(|r| {
        let heading = if r.rotated { "New client secret" } else { "Agent created" };
        let previous = r
            .previous_until
            .map(|at| {
                format!(
                    " The previous secret keeps working until {} ({}): give the agent the new one before then.",
                    utc_time(at),
                    countdown(at - now),
                )
            });
        view! {
            <section class="card secret-card" aria-labelledby="secret-heading">
                <h2 id="secret-heading">{heading}</h2>
                <p>
                    "Copy the client secret " <code>{r.label.clone()}</code>
                    " now: it is shown only once and cannot be retrieved later." {previous}
                </p>
                <dl class="pairs">
                    <dt>"Client id"</dt>
                    <dd>
                        <code data-testid="client-id">{a.id.clone()}</code>
                    </dd>
                    <dt>"Client secret"</dt>
                    <dd>
                        <SecretBox secret=r.secret />
                    </dd>
                </dl>
                <LazyIslandScripts />
            </section>
        }
    });
    let notice = done
        .and_then(|d| match d.as_str() {
            "suspend" => {
                Some("Agent suspended: it cannot get tokens, and its tokens stop working.")
            }
            "reactivate" => Some("Agent reactivated."),
            "decommission" => Some("Agent decommissioned. Its usage history is kept."),
            "retire" => Some(
                "Secret retired: it gets no new token (tokens it got already end within 15 minutes).",
            ),
            "resources" => Some("Resources saved: they apply to the agent's next token request."),
            _ => None,
        })
        .map(|text| {
            view! {
                <p class="notice" role="status">
                    {text}
                </p>
            }
        });
    // A refused action, or a refused resources form's problem that is not
    // the field's (the agent was decommissioned meanwhile).
    let refused = use_context::<AgentActionError>().or_else(|| {
        use_context::<AgentResourcesForm>()
            .and_then(|f| f.errors.other_than(&["resources"]))
            .map(AgentActionError)
    });
    let error = refused.map(|e| {
        view! {
            <p class="form-error" role="alert">
                {e.0}
            </p>
        }
    });
    let capabilities = chips(&a.capabilities);
    let resources = if a.resources.is_empty() {
        view! { <span class="muted">"none: tokens carry the portal's default audience"</span> }
            .into_any()
    } else {
        chips(&a.resources).into_any()
    };
    let last = a
        .last_token_at
        .map(|t| format!("{} ({})", ago(t, now), utc_time(t)))
        .unwrap_or_else(|| "never".into());
    let actions = (data.can_manage && a.status != AgentStatus::Decommissioned).then(|| {
        let base = format!("/agents/{}", a.id);
        let toggle = if a.status == AgentStatus::Active {
            ("suspend", "Suspend")
        } else {
            ("reactivate", "Reactivate")
        };
        view! {
            <section class="card" aria-labelledby="actions-heading">
                <h2 id="actions-heading">"Actions"</h2>
                <div class="actions">
                    <form method="post" action=format!("{base}/status")>
                        <input type="hidden" name="action" value=toggle.0 />
                        <button type="submit" class="button">
                            {toggle.1}
                        </button>
                    </form>
                </div>
                <form method="post" action=format!("{base}/rotate") class="rotate-form">
                    <label>
                        "The current secret keeps working for "
                        <select name="overlap" data-testid="overlap">
                            {Overlap::ALL
                                .into_iter()
                                .map(|o| {
                                    view! {
                                        <option value=o.as_str() selected=o == Overlap::Day>
                                            {o.label()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <label>
                        "New secret expires "
                        <select name="secret_expires">
                            {SecretExpiry::ALL
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <option value=e
                                            .as_value()>{e.label().to_lowercase()}</option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button">
                        "Rotate secret"
                    </button>
                </form>
                {resources_form(&base, &a.resources)}
                <form method="post" action=format!("{base}/status") class="danger-zone">
                    <input type="hidden" name="action" value="decommission" />
                    <label class="check">
                        <input type="checkbox" name="confirm" value="yes" required />
                        " I understand: decommissioning is permanent and the agent can never get a token again."
                    </label>
                    <button type="submit" class="button button-danger">
                        "Decommission"
                    </button>
                </form>
            </section>
        }
    });
    let secrets = credentials_table(
        &data.credentials,
        &a.id,
        a.last_token_at,
        now,
        data.can_manage && a.status != AgentStatus::Decommissioned,
    );
    view! {
        {revealed}
        {notice}
        {error}
        <section class="card">
            <h2 class="agent-name" data-testid="agent-name">
                {a.name.clone()}
                " "
                {status_badge(a.status)}
            </h2>
            <dl class="pairs">
                <dt>"Client id"</dt>
                <dd>
                    <code>{a.id.clone()}</code>
                </dd>
                <dt>"Type"</dt>
                <dd>{a.agent_type.clone()}</dd>
                <dt>"Version"</dt>
                <dd>{a.version.clone()}</dd>
                <dt>"Owner"</dt>
                <dd>{a.owner.clone()}</dd>
                <dt>"Environment"</dt>
                <dd>{a.environment.as_str()}</dd>
                <dt>"Capabilities"</dt>
                <dd>{capabilities}</dd>
                <dt>"Resources"</dt>
                <dd data-testid="resources">{resources}</dd>
                <dt>"Last token"</dt>
                <dd data-testid="last-token">{last}</dd>
                <dt>"Created"</dt>
                <dd>{utc_time(a.created_at)}</dd>
                <dt>"Updated"</dt>
                <dd>{utc_time(a.updated_at)}</dd>
            </dl>
        </section>
        {secrets}
        {failures_section(&data.auth_failures, now)}
        {actions}
    }
}

/// Short values side by side, each as code.
fn chips(items: &[String]) -> impl IntoView {
    let items = items
        .iter()
        .map(|item| {
            view! {
                <li>
                    <code>{item.clone()}</code>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="chips">{items}</ul> }
}

/// The resources form: as posted when it was refused, else the agent's.
fn resources_form(base: &str, resources: &[String]) -> impl IntoView {
    let posted = use_context::<AgentResourcesForm>();
    let (value, errors) = match posted {
        Some(p) => (p.resources, p.errors),
        None => (resources.join("\n"), Default::default()),
    };
    view! {
        <form method="post" action=format!("{base}/resources") class="form-grid resources-form">
            <ResourcesField value=value errors=errors />
            <div class="span-2">
                <button type="submit" class="button">
                    "Save resources"
                </button>
            </div>
        </form>
    }
}

/// Failed authentications at the token endpoints: a copy left on an old
/// secret, a typo, someone guessing, and the throttles they started. Only
/// when there were any this week.
fn failures_section(failures: &AuthFailures, now: i64) -> Option<impl IntoView> {
    if failures.latest.is_empty() {
        return None;
    }
    let rows = failures
        .latest
        .iter()
        .map(|f| {
            let what = match (f.reason, &f.credential_label) {
                (AuthFailureReason::FormerSecret, Some(label)) => {
                    format!("former secret {label}: a copy that has not switched")
                }
                (AuthFailureReason::FormerSecret, None) => "a former secret".to_owned(),
                (AuthFailureReason::WrongSecret, _) => "wrong secret".to_owned(),
                (AuthFailureReason::Throttled, _) => {
                    let what = f.scope.map_or("too many failures", |s| s.describe());
                    match f.until {
                        Some(until) if until > now => {
                            format!("{what}; ends {}", countdown(until - now))
                        }
                        Some(until) => format!("{what}; ended {}", utc_time(until)),
                        None => what.to_owned(),
                    }
                }
            };
            view! {
                <tr data-testid="auth-failure" data-reason=f.reason.as_str()>
                    <td>
                        <span title=utc_time(f.at)>{ago(f.at, now)}</span>
                    </td>
                    <td>
                        <code>{f.client_ip.clone()}</code>
                    </td>
                    <td>{what}</td>
                </tr>
            }
        })
        .collect_view();
    let summary = match failures.last_day {
        0 => "None in the last 24 hours.".to_owned(),
        1 => "1 in the last 24 hours.".to_owned(),
        n => format!("{n} in the last 24 hours."),
    };
    Some(view! {
        <section class="card" aria-labelledby="failures-heading">
            <h2 id="failures-heading">"Failed authentications"</h2>
            <p class="muted" data-testid="auth-failures-summary">
                {summary}
                " Repeated failures from one address are refused for 15 minutes, even with the right secret."
            </p>
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"From"</th>
                        <th scope="col">"What"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    })
}

/// The agent's secrets: what each is, when it ends, when it was last used.
/// "Retire now" on each live one, while another is live too.
fn credentials_table(
    credentials: &[Credential],
    agent_id: &str,
    last_token_at: Option<i64>,
    now: i64,
    can_manage: bool,
) -> impl IntoView {
    let live = credentials.iter().filter(|c| c.is_live(now)).count();
    let last_token_from = credentials
        .iter()
        .filter(|c| c.last_used_at.is_some())
        .max_by_key(|c| (c.last_used_at, c.created_at))
        .map(|c| c.label.clone());
    let rows = credentials
        .iter()
        .map(|c| {
            let status = c.status(now);
            let expires = c
                .expires_at
                .map(|at| {
                    let when = if at > now {
                        countdown(at - now)
                    } else {
                        ago(at, now)
                    };
                    view! { <span title=utc_time(at)>{when}</span> }.into_any()
                })
                .unwrap_or_else(|| "never".into_any());
            let used = c
                .last_used_at
                .map(|at| view! { <span title=utc_time(at)>{ago(at, now)}</span> }.into_any())
                .unwrap_or_else(|| "never".into_any());
            let retire = (can_manage && live > 1 && c.is_live(now)).then(|| {
                view! {
                    <form
                        method="post"
                        action=format!("/agents/{agent_id}/credentials/{}/retire", c.id)
                    >
                        <button type="submit" class="button button-small">
                            "Retire now"
                        </button>
                    </form>
                }
            });
            view! {
                <tr data-testid="credential" data-status=status.as_str()>
                    <td>
                        <code>{c.label.clone()}</code>
                    </td>
                    <td>
                        <span title=utc_time(c.created_at)>{ago(c.created_at, now)}</span>
                    </td>
                    <td>{expires}</td>
                    <td data-testid="last-used">{used}</td>
                    <td>
                        <span class=format!(
                            "badge badge-{}",
                            status.as_str(),
                        )>{status.as_str()}</span>
                    </td>
                    <td>{retire}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="secrets-heading">
            <h2 id="secrets-heading">"Secrets"</h2>
            {match (last_token_from, last_token_at) {
                (Some(label), _) => Some(format!("The last token came from {label}.")),
                (None, None) => Some("No token yet.".to_string()),
                (None, Some(_)) => None,
            }
                .map(|text| {
                    // Tokens before secrets' use was recorded: which, unknown.
                    view! {
                        <p class="muted" data-testid="last-token-from">
                            {text}
                        </p>
                    }
                })}
            <table class="data-table">
                <thead>
                    <tr>
                        <th scope="col">"Secret"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}
