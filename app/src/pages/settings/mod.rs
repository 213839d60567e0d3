//! `/settings/*` besides the plan: my account, the team, the audit trail.

pub mod account;
pub mod audit;
pub mod team;

use crate::model::forms::SettingsOutcome;

/// What the last post of form `form` did, or its problem (for the form it
/// came from only).
pub(crate) fn outcome_of(form: &str) -> (Option<String>, Option<String>, SettingsOutcome) {
    let outcome = leptos::prelude::use_context::<SettingsOutcome>()
        .filter(|o| o.form == form)
        .unwrap_or_default();
    let error = outcome
        .errors
        .other_than(&["password", "current_password", "email"]);
    (outcome.done.clone(), error, outcome)
}
