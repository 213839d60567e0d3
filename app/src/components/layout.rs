use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::session::current_member;

const NAV: [(&str, &str); 3] = [
    ("/analytics", "Analytics"),
    ("/agents", "Agents"),
    ("/settings/tier", "Tier & Billing"),
];

/// Header, navigation and main area of every signed-in page.
#[component]
pub fn AppShell(title: &'static str, children: Children) -> impl IntoView {
    let member = current_member();
    let path = use_location().pathname.get_untracked();
    let nav = NAV
        .iter()
        .map(|(href, label)| {
            let current = path == *href || path.starts_with(&format!("{href}/"));
            view! {
                <a href=*href aria-current=current.then_some("page")>{*label}</a>
            }
        })
        .collect_view();
    let account = member.map(|m| {
        view! {
            <div class="account">
                <span class="account-tenant" data-testid="tenant-name">{m.tenant_name}</span>
                <span class="account-email" data-testid="member-email">{m.email}</span>
                <form method="post" action="/logout" class="sign-out">
                    <button type="submit" class="button button-quiet">"Sign out"</button>
                </form>
            </div>
        }
    });
    view! {
        <Title text=title/>
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="app-header">
            <a class="brand" href="/analytics">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                <span class="brand-name">{crate::PRODUCT_NAME}</span>
            </a>
            <nav class="app-nav" aria-label="Main">{nav}</nav>
            {account}
        </header>
        <main id="main" class="app-main">
            <h1 class="page-title">{title}</h1>
            {children()}
        </main>
    }
}
