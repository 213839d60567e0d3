use leptos::prelude::*;

use crate::components::form_field::{NewPasswordField, TextField};
use crate::components::layout::{form_outcome, AuthCard};
use crate::model::forms::AuthFormState;

/// `/signup`: a new organisation on the free tier, with its first owner.
#[component]
pub fn SignUpPage() -> impl IntoView {
    let state = use_context::<AuthFormState>().unwrap_or_default();
    let errors = state.errors.clone();
    let general = errors.other_than(&["organisation", "name", "email", "password"]);
    let name_error = errors.of("name").or_else(|| errors.of("organisation"));
    let mut org_errors = crate::model::FieldErrors::default();
    if let Some(message) = name_error {
        org_errors.push("organisation", message);
    }
    if let Some(done) = state.done.clone() {
        return view! {
            <AuthCard title="Check your inbox">
                {form_outcome(Some(done), None)} <p>
                    <a class="button button-primary" href="/login">
                        "Sign in"
                    </a>
                </p>
            </AuthCard>
        }
        .into_any();
    }
    view! {
        <AuthCard title="Create your organisation">
            <p class="muted">
                "Start on the free tier: register agents, watch their usage, upgrade when you need to."
            </p>
            {form_outcome(None, general)}
            <form method="post" action="/signup" class="stack" novalidate>
                <TextField
                    name="organisation"
                    label="Organisation name"
                    value=state.value("organisation")
                    errors=org_errors
                    max_length=Some(100)
                    placeholder=None
                    autocomplete="organization"
                />
                <TextField
                    name="email"
                    label="Your work e-mail"
                    value=state.value("email")
                    errors=errors.clone()
                    max_length=Some(254)
                    placeholder=None
                    input_type="email"
                    autocomplete="email"
                />
                <NewPasswordField label="Password" errors=errors.clone() />
                <button type="submit" class="button button-primary">
                    "Create organisation"
                </button>
            </form>
            <p class="muted">"Already have an account? " <a href="/login">"Sign in"</a></p>
        </AuthCard>
    }
    .into_any()
}
