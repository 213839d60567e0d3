use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::components::format::thousands;
use crate::model::tiers::UsageLevel;
use crate::session::{current_member, current_standing};

const NAV: [(&str, &str); 5] = [
    ("/analytics", "Analytics"),
    ("/agents", "Agents"),
    ("/settings/tier", "Tier & Billing"),
    ("/settings/team", "Team"),
    ("/settings/audit", "Audit"),
];

/// Header, navigation and main area of every signed-in page.
#[component]
pub fn AppShell(title: &'static str, children: Children) -> impl IntoView {
    let member = current_member();
    let path = use_location().pathname.get_untracked();
    // Viewers cannot read the audit trail: no link to a page that refuses.
    let audits = member.as_ref().is_some_and(|m| m.role.can_manage());
    let unverified = member.as_ref().filter(|m| !m.is_verified()).map(|m| {
        view! {
            <div class="banner banner-warning" role="status" data-testid="verify-banner">
                <strong>"Verify your e-mail address."</strong>
                " We sent a link to "
                {m.email.clone()}
                ". Until you open it you can look around but not change anything."
                <form method="post" action="/settings/account/verification" class="inline-form">
                    <button type="submit" class="button button-quiet">
                        "Send a new link"
                    </button>
                </form>
            </div>
        }
    });
    let nav = NAV
        .iter()
        .filter(|(href, _)| audits || *href != "/settings/audit")
        .map(|(href, label)| {
            let current = path == *href || path.starts_with(&format!("{href}/"));
            view! {
                <a href=*href aria-current=current.then_some("page")>
                    {*label}
                </a>
            }
        })
        .collect_view();
    let account = member.map(|m| {
        view! {
            <div class="account">
                <span class="account-tenant" data-testid="tenant-name">
                    {m.tenant_name}
                </span>
                <a
                    class="account-email"
                    href="/settings/account"
                    title="My account"
                    data-testid="member-email"
                >
                    {m.email}
                </a>
                <form method="post" action="/logout" class="sign-out">
                    <button type="submit" class="button button-quiet">
                        "Sign out"
                    </button>
                </form>
            </div>
        }
    });
    view! {
        <Title text=title />
        <a class="skip-link" href="#main">
            "Skip to content"
        </a>
        <header class="app-header">
            <a class="brand" href="/analytics">
                <span class="brand-mark" aria-hidden="true">
                    "◆"
                </span>
                <span class="brand-name">{crate::PRODUCT_NAME}</span>
            </a>
            <nav class="app-nav" aria-label="Main">
                {nav}
            </nav>
            {account}
        </header>
        <main id="main" class="app-main">
            {unverified}
            <QuotaBanner />
            <h1 class="page-title">{title}</h1>
            {children()}
        </main>
    }
}

/// The warning across the portal when a limit is at 80 % or more (the same
/// rule as the Tier & Billing bars), from the standing the server read for
/// the page before rendering it.
#[component]
fn QuotaBanner() -> impl IntoView {
    let standing = current_standing()?;
    let payment = standing.payment_failed.then(|| {
        view! {
            <div class="banner banner-exhausted" role="alert" data-testid="payment-failed-banner">
                <strong>"Your last payment failed."</strong>
                " Update your card under "
                <a href="/settings/tier">"Tier & Billing → Manage billing"</a>
                " to keep your plan."
            </div>
        }
    });
    let alerts = standing.alerts();
    let Some(worst) = alerts.first().map(|l| l.level()) else {
        return payment.map(|p| p.into_any());
    };
    let items = alerts
        .iter()
        .map(|l| {
            let what = match (l.limit, l.level()) {
                (Some(max), UsageLevel::Exhausted) => {
                    format!("{}: all {} used", l.label, thousands(max))
                }
                (Some(max), _) => {
                    format!(
                        "{}: {} of {} ({} %)",
                        l.label,
                        thousands(l.used),
                        thousands(max),
                        l.percent().unwrap_or(0),
                    )
                }
                (None, _) => String::new(),
            };
            view! { <li>{what}</li> }
        })
        .collect_view();
    let daily = alerts
        .iter()
        .any(|l| l.daily)
        .then_some(" Daily limits reset at 00:00 UTC.");
    let title = if worst == UsageLevel::Exhausted {
        "A limit of your plan is used up."
    } else {
        "You are close to a limit of your plan."
    };
    Some(
        view! {
            {payment}
            <div
                class=format!("banner banner-{}", worst.css())
                role="status"
                data-testid="quota-banner"
            >
                <strong>{title}</strong>
                <ul>{items}</ul>
                <span>{daily}" "<a href="/settings/tier">"See your plan"</a></span>
            </div>
        }
        .into_any(),
    )
}

/// The card of the pages for people without a session (sign-in, sign-up,
/// the pages e-mailed links open).
#[component]
pub fn AuthCard(
    title: &'static str,
    /// Shown beside the card (the demo accounts).
    #[prop(optional_no_strip)]
    after: Option<AnyView>,
    children: Children,
) -> impl IntoView {
    view! {
        <Title text=title />
        <main class="auth-page" id="main">
            <div class="auth-card">
                <p class="brand">
                    <span class="brand-mark" aria-hidden="true">
                        "◆"
                    </span>
                    <span class="brand-name">{crate::PRODUCT_NAME}</span>
                </p>
                <h1>{title}</h1>
                {children()}
            </div>
            {after}
        </main>
    }
}

/// What a form post did, or why it failed, above the form.
pub fn form_outcome(done: Option<String>, error: Option<String>) -> impl IntoView {
    (
        done.map(|message| {
            view! {
                <p class="form-done" role="status" data-testid="form-done">
                    {message}
                </p>
            }
        }),
        error.map(|message| {
            view! {
                <p class="form-error" role="alert" data-testid="form-error">
                    {message}
                </p>
            }
        }),
    )
}
