use leptos::prelude::*;

use crate::components::layout::AppShell;

#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <AppShell title="Agents">
            <p class="muted">"The OAuth clients of your tenant."</p>
        </AppShell>
    }
}
