use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::copy_secret::SecretBox;
use crate::components::format::{ago, utc_time};
use crate::components::islands::LazyIslandScripts;
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::status_badge::status_badge;
use crate::model::forms::{AgentActionError, RevealedSecret};
use crate::model::AgentStatus;
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
        view! {
            <section class="card secret-card" aria-labelledby="secret-heading">
                <h2 id="secret-heading">{heading}</h2>
                <p>
                    "Copy the client secret now: it is shown only once and cannot be retrieved later."
                    {r.rotated.then_some(" The previous secret no longer works.")}
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
            _ => None,
        })
        .map(|text| {
            view! {
                <p class="notice" role="status">
                    {text}
                </p>
            }
        });
    let error = use_context::<AgentActionError>().map(|e| {
        view! {
            <p class="form-error" role="alert">
                {e.0}
            </p>
        }
    });
    let capabilities = a
        .capabilities
        .iter()
        .map(|c| {
            view! {
                <li>
                    <code>{c.clone()}</code>
                </li>
            }
        })
        .collect_view();
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
                    <form method="post" action=format!("{base}/rotate")>
                        <button type="submit" class="button">
                            "Rotate secret"
                        </button>
                    </form>
                </div>
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
                <dd>
                    <ul class="chips">{capabilities}</ul>
                </dd>
                <dt>"Last token"</dt>
                <dd data-testid="last-token">{last}</dd>
                <dt>"Created"</dt>
                <dd>{utc_time(a.created_at)}</dd>
                <dt>"Updated"</dt>
                <dd>{utc_time(a.updated_at)}</dd>
            </dl>
        </section>
        {actions}
    }
}
