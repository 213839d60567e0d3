use leptos::prelude::*;

use crate::components::layout::AppShell;

#[component]
pub fn TierPage() -> impl IntoView {
    view! {
        <AppShell title="Tier & Billing">
            <p class="muted">"Your plan, its daily limits and your billing."</p>
        </AppShell>
    }
}
