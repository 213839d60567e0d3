use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::format::{countdown, thousands, utc_time};
use crate::components::layout::AppShell;
use crate::components::loaded::loaded;
use crate::components::rendered::RenderMemo;
use crate::model::forms::BillingProblem;
use crate::model::tiers::{LimitStanding, TierLimits};
use crate::model::{PlanChange, Tier};
use crate::server_fns::tier::{tier_overview, TierPageData};

#[component]
pub fn TierPage() -> impl IntoView {
    let checkout = use_query_map().with_untracked(|q| q.get("checkout"));
    let data = tier_overview;
    view! {
        <AppShell title="Tier & Billing">
            {loaded(
                data,
                "Loading your plan…",
                move |d| view! { <TierView data=d checkout=checkout.clone() /> },
            )}
        </AppShell>
    }
}

fn limit_text(limit: Option<u64>, unit: &str) -> String {
    match limit {
        Some(l) => format!("{} {unit}", thousands(l)),
        None => format!("unlimited {unit}"),
    }
}

#[component]
fn TierView(data: TierPageData, checkout: Option<String>) -> impl IntoView {
    // Outside the memo: a checkout's return may add a refresh to the page's
    // head (a side effect a reused view would not repeat).
    let tier = data.standing.tier;
    let plan = TIER_VIEW.view_unless_form(data, use_context::<BillingProblem>(), tier_view);
    view! {
        <CheckoutReturn status=checkout tier />
        {plan}
    }
}

/// The page below its title but a checkout's return: a function of the page
/// data (which carries the second), the same for every request of a
/// tenant's members with one role in a second (see `RenderMemo`).
static TIER_VIEW: RenderMemo<TierPageData> = RenderMemo::new();

fn tier_view(data: &TierPageData, problem: Option<BillingProblem>) -> impl IntoView {
    let standing = data.standing.clone();
    let tier = standing.tier;
    let reset = format!(
        "Resets at 00:00 UTC, {}",
        countdown(standing.reset_at - data.now)
    );
    let headline = match tier {
        Tier::Enterprise => view! {
            <p class="plan-name" data-testid="plan-name">
                "Enterprise — Unlimited"
            </p>
            <p class="muted">"No limit on agents, API calls or token issuances."</p>
        }
        .into_any(),
        _ => view! {
            <p class="plan-name" data-testid="plan-name">
                {tier.display_name()}
            </p>
            <p class="muted">"Daily limits count UTC days."</p>
        }
        .into_any(),
    };
    let rows = standing
        .limits
        .iter()
        .map(|l| view! { <LimitRow limit=l.clone() reset=reset.clone() /> })
        .collect_view();
    let pro = TierLimits::of(Tier::Pro);
    let pro_offer = (tier == Tier::Free).then(|| {
        view! {
            <section class="panel" data-testid="pro-offer">
                <h2>"What Pro gives"</h2>
                <ul class="plan-features">
                    <li>{limit_text(pro.agents, "live agents")}</li>
                    <li>{limit_text(pro.api_calls_per_day, "API calls per day")}</li>
                    <li>{limit_text(pro.tokens_per_day, "token issuances per day")}</li>
                </ul>
            </section>
        }
    });
    let problem = problem.map(|p| {
        view! {
            <p class="form-error" role="alert" data-testid="billing-problem">
                {p.0}
            </p>
        }
    });
    view! {
        {problem}
        <section class="panel plan-panel">
            <h2>"Current plan"</h2>
            {headline}
            <BillingActions tier can_manage=data.can_manage test_mode=data.test_mode />
        </section>
        <section class="panel">
            <h2>"Usage and limits"</h2>
            <ul class="limits">{rows}</ul>
        </section>
        {pro_offer}
        <BillingHistory history=data.history.clone() />
    }
}

#[component]
fn LimitRow(limit: LimitStanding, reset: String) -> impl IntoView {
    let level = limit.level();
    let used = thousands(limit.used);
    let (amount, percent) = match (limit.limit, limit.percent()) {
        (Some(max), Some(pct)) => (format!("{used} of {}", thousands(max)), Some(pct)),
        _ => (format!("{used} · unlimited"), None),
    };
    let state = match level {
        crate::model::tiers::UsageLevel::Normal => None,
        crate::model::tiers::UsageLevel::Warning => Some("nearly used up"),
        crate::model::tiers::UsageLevel::Exhausted => Some("used up"),
    };
    let bar = percent.map(|pct| {
        view! {
            <div
                class=format!("bar bar-{}", level.css())
                role="progressbar"
                aria-label=limit.label.clone()
                aria-valuemin="0"
                aria-valuemax="100"
                aria-valuenow=pct
            >
                <span style=format!("width: {pct}%")></span>
            </div>
        }
    });
    // "85 % · nearly used up · Resets at …", with whichever parts apply.
    let reset = limit.daily.then(|| match percent {
        Some(_) => format!(" · {reset}"),
        None => reset,
    });
    let note = (percent.is_some() || reset.is_some()).then(|| {
        view! {
            <p class="limit-note muted" data-testid="limit-note">
                {percent.map(|p| format!("{p} %"))}
                {state
                    .map(|s| {
                        view! {
                            <strong class=format!(
                                "level-{}",
                                level.css(),
                            )>{format!(" · {s}")}</strong>
                        }
                    })}
                {reset}
            </p>
        }
    });
    view! {
        <li class="limit" data-testid=format!("limit-{}", limit.key) data-level=level.css()>
            <div class="limit-head">
                <span class="limit-label">{limit.label.clone()}</span>
                <span class="limit-amount" data-testid="amount">
                    {amount}
                </span>
            </div>
            {bar}
            {note}
        </li>
    }
}

#[component]
fn CheckoutReturn(status: Option<String>, tier: Tier) -> impl IntoView {
    match (status.as_deref(), tier) {
        (Some("success"), Tier::Free) => Some(
            view! {
                // Until the webhook lands: reload every few seconds, which
                // needs no JavaScript.
                <leptos_meta::Meta http_equiv="refresh" content="3" />
                <p class="notice" role="status" data-testid="checkout-pending">
                    "Payment received. Confirming your upgrade with Stripe… this page updates by itself."
                </p>
            }
            .into_any(),
        ),
        (Some("success"), _) => Some(
            view! {
                <p class="notice notice-ok" role="status" data-testid="checkout-done">
                    {format!("Welcome to {}! Your new limits apply now.", tier.display_name())}
                </p>
            }
            .into_any(),
        ),
        (Some("cancel"), _) => Some(
            view! {
                <p class="notice" role="status" data-testid="checkout-cancelled">
                    "Checkout was cancelled: nothing changed and nothing was charged."
                </p>
            }
            .into_any(),
        ),
        _ => None,
    }
}

#[component]
fn BillingActions(tier: Tier, can_manage: bool, test_mode: bool) -> impl IntoView {
    let test = test_mode.then(|| {
        view! {
            <p class="badge-test" data-testid="test-mode">
                "Test mode: payments go to the local Stripe test double."
            </p>
        }
    });
    let actions = match (tier, can_manage) {
        (Tier::Enterprise, _) => view! { <p class="muted">"Your Enterprise agreement is managed with our sales team."</p> }
        .into_any(),
        (_, false) => view! {
            <p class="muted" data-testid="ask-owner">
                "Ask an owner or admin to upgrade or change billing."
            </p>
        }
        .into_any(),
        (Tier::Free, true) => view! {
            <form method="post" action="/api/tiers/upgrade">
                <button type="submit" class="button button-primary" data-testid="upgrade">
                    "Upgrade to Pro"
                </button>
            </form>
        }
        .into_any(),
        (Tier::Pro, true) => view! {
            <div class="actions">
                <form method="post" action="/api/tiers/portal">
                    <button type="submit" class="button" data-testid="manage-billing">
                        "Manage billing"
                    </button>
                </form>
                <a
                    class="button button-quiet"
                    href="mailto:sales@agent-id.example?subject=Enterprise%20plan"
                >
                    "Contact sales for Enterprise"
                </a>
            </div>
        }
        .into_any(),
    };
    view! {
        {test}
        {actions}
    }
}

#[component]
fn BillingHistory(history: Vec<PlanChange>) -> impl IntoView {
    let empty = history.is_empty().then(|| {
        view! {
            <tr>
                <td colspan="3" class="muted">
                    "No plan changes yet."
                </td>
            </tr>
        }
    });
    let rows = history
        .into_iter()
        .map(|c| {
            view! {
                <tr>
                    <td>{utc_time(c.changed_at)}</td>
                    <td>{format!("{} → {}", c.from.display_name(), c.to.display_name())}</td>
                    <td class="small">{c.changed_by}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="panel">
            <h2>"Billing history"</h2>
            <table class="data-table" data-testid="billing-history">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Plan change"</th>
                        <th scope="col">"By"</th>
                    </tr>
                </thead>
                <tbody>{rows}{empty}</tbody>
            </table>
        </section>
    }
}
