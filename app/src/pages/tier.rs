use leptos::prelude::*;

use crate::api::tier::{tier_overview, TierPageData};
use crate::components::format::{countdown, thousands};
use crate::components::layout::AppShell;
use crate::model::Tier;
use crate::tiers::{LimitStanding, TierLimits};

#[component]
pub fn TierPage() -> impl IntoView {
    let data = Resource::new_blocking(|| (), |_| tier_overview());
    view! {
        <AppShell title="Tier & Billing">
            <Suspense fallback=|| view! { <p class="muted">"Loading your plan…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <TierView data=d/> }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
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
fn TierView(data: TierPageData) -> impl IntoView {
    let standing = data.standing.clone();
    let tier = standing.tier;
    let reset = format!(
        "Resets at 00:00 UTC, {}",
        countdown(standing.reset_at - data.now)
    );
    let headline = match tier {
        Tier::Enterprise => view! {
            <p class="plan-name" data-testid="plan-name">"Enterprise — Unlimited"</p>
            <p class="muted">"No limit on agents, API calls or token issuances."</p>
        }
        .into_any(),
        _ => view! {
            <p class="plan-name" data-testid="plan-name">{tier.display_name()}</p>
            <p class="muted">"Daily limits count UTC days."</p>
        }
        .into_any(),
    };
    let rows = standing
        .limits
        .iter()
        .map(|l| view! { <LimitRow limit=l.clone() reset=reset.clone()/> })
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
    view! {
        <section class="panel plan-panel">
            <h2>"Current plan"</h2>
            {headline}
        </section>
        <section class="panel">
            <h2>"Usage and limits"</h2>
            <ul class="limits">{rows}</ul>
        </section>
        {pro_offer}
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
        crate::tiers::UsageLevel::Normal => None,
        crate::tiers::UsageLevel::Warning => Some("nearly used up"),
        crate::tiers::UsageLevel::Exhausted => Some("used up"),
    };
    let bar = percent.map(|pct| {
        view! {
            <div class=format!("bar bar-{}", level.css()) role="progressbar"
                aria-label=limit.label.clone() aria-valuemin="0" aria-valuemax="100" aria-valuenow=pct>
                <span style=format!("width: {pct}%")></span>
            </div>
        }
    });
    view! {
        <li class="limit" data-testid=format!("limit-{}", limit.key) data-level=level.css()>
            <div class="limit-head">
                <span class="limit-label">{limit.label.clone()}</span>
                <span class="limit-amount" data-testid="amount">{amount}</span>
            </div>
            {bar}
            <p class="limit-note muted">
                {percent.map(|p| format!("{p} %"))}
                {state.map(|s| view! { <strong class=format!("level-{}", level.css())>{format!(" · {s}")}</strong> })}
                {limit.daily.then(|| format!(" · {reset}"))}
            </p>
        </li>
    }
}
