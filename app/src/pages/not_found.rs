use leptos::prelude::*;

use crate::components::layout::AppShell;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <AppShell title="Page not found">
            <p>"There is no page at this address. "<a href="/analytics">"Go to Analytics"</a></p>
        </AppShell>
    }
}
