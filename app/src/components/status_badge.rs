use leptos::prelude::*;

use crate::model::AgentStatus;

/// An agent's status as a coloured badge.
pub fn status_badge(status: AgentStatus) -> impl IntoView {
    let class = format!("badge badge-{}", status.as_str());
    view! { <span class=class>{status.as_str()}</span> }
}
