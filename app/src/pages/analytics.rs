use leptos::prelude::*;

use crate::components::layout::AppShell;

#[component]
pub fn AnalyticsPage() -> impl IntoView {
    view! {
        <AppShell title="Analytics">
            <p class="muted">"How your agents use the platform."</p>
        </AppShell>
    }
}
