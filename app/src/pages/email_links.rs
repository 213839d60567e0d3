//! The pages e-mailed links open: verify an address, choose a new password,
//! accept an invitation. Each shows a button or form that posts the token:
//! opening a link never uses it (mail scanners open links too).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::form_field::{CurrentPasswordField, NewPasswordField, TextField};
use crate::components::layout::{form_outcome, AuthCard};
use crate::components::loaded::loaded;
use crate::model::forms::AuthFormState;
use crate::server_fns::team::invitation_details;

fn token() -> String {
    use_query_map()
        .with_untracked(|q| q.get("token"))
        .unwrap_or_default()
}

fn general_error(state: &AuthFormState) -> Option<String> {
    state.errors.other_than(&["password"])
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let state = use_context::<AuthFormState>().unwrap_or_default();
    if state.done.is_some() {
        return view! {
            <AuthCard title="Address verified">
                {form_outcome(state.done.clone(), None)} <p>
                    <a class="button button-primary" href="/agents">
                        "Register an agent"
                    </a>
                </p>
            </AuthCard>
        }
        .into_any();
    }
    // A sign-up's link: the password chosen at sign-up proves that whoever
    // opens it signed up; the organisation's name can still be changed.
    if state.value("signup") == "yes" {
        let errors = state.errors.clone();
        return view! {
            <AuthCard title="Create your organisation">
                {form_outcome(None, errors.other_than(&["organisation", "password"]))}
                <p class="muted">
                    "Confirm your address with the password you chose when you signed up."
                </p> <form method="post" action="/verify-email" class="stack" novalidate>
                    <input type="hidden" name="token" value=token() />
                    <TextField
                        name="organisation"
                        label="Organisation name"
                        value=state.value("organisation")
                        errors=errors.clone()
                        max_length=Some(100)
                        placeholder=None
                        input_type="text"
                        autocomplete="organization"
                    />
                    <CurrentPasswordField name="password" label="Your password" errors=errors />
                    <button type="submit" class="button button-primary">
                        "Verify my address"
                    </button>
                </form>
            </AuthCard>
        }
        .into_any();
    }
    view! {
        <AuthCard title="Verify your e-mail">
            {form_outcome(None, general_error(&state))}
            <form method="post" action="/verify-email" class="stack">
                <input type="hidden" name="token" value=token() />
                <button type="submit" class="button button-primary">
                    "Verify my address"
                </button>
            </form>
        </AuthCard>
    }
    .into_any()
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let state = use_context::<AuthFormState>().unwrap_or_default();
    let errors = state.errors.clone();
    view! {
        <AuthCard title="Forgot your password?">
            {form_outcome(state.done.clone(), errors.other_than(&["email"]))}
            <p class="muted">"We will e-mail you a link to choose a new one."</p>
            <form method="post" action="/forgot-password" class="stack" novalidate>
                <TextField
                    name="email"
                    label="E-mail"
                    value=state.value("email")
                    errors=errors
                    max_length=Some(254)
                    placeholder=None
                    input_type="email"
                    autocomplete="email"
                />
                <button type="submit" class="button button-primary">
                    "Send the link"
                </button>
            </form> <p class="muted">
                <a href="/login">"Back to sign-in"</a>
            </p>
        </AuthCard>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let state = use_context::<AuthFormState>().unwrap_or_default();
    let errors = state.errors.clone();
    // The link itself no longer works: no form that could only fail.
    if let Some(problem) = general_error(&state) {
        return view! {
            <AuthCard title="Choose a new password">
                {form_outcome(None, Some(problem))} <p>
                    <a class="button button-primary" href="/forgot-password">
                        "Ask for a new link"
                    </a>
                </p>
            </AuthCard>
        }
        .into_any();
    }
    view! {
        <AuthCard title="Choose a new password">
            {form_outcome(None, None)}
            <p class="muted">"Every session of your account ends when you change it."</p>
            <form method="post" action="/reset-password" class="stack" novalidate>
                <input type="hidden" name="token" value=token() />
                <NewPasswordField label="New password" errors=errors />
                <button type="submit" class="button button-primary">
                    "Change password"
                </button>
            </form>
        </AuthCard>
    }
    .into_any()
}

#[component]
pub fn InvitationPage() -> impl IntoView {
    let state = use_context::<AuthFormState>().unwrap_or_default();
    let token = token();
    let details = {
        let token = token.clone();
        move || invitation_details(token.clone())
    };
    let errors = state.errors.clone();
    let general = general_error(&state);
    view! {
        <AuthCard title="Join your team">
            {form_outcome(None, general)}
            {loaded(
                details,
                "Reading the invitation…",
                move |d| {
                    let (token, errors) = (token.clone(), errors.clone());
                    view! {
                        <p data-testid="invitation-summary">
                            "You are invited to " <strong>{d.organisation}</strong> " as "
                            <strong>{d.role.to_string()}</strong> ", with the address "
                            <strong>{d.email}</strong> "."
                        </p>
                        {d
                            .existing_account
                            .then(|| {
                                view! {
                                    <p class="muted">
                                        "This address already has an account: join with its password."
                                    </p>
                                }
                            })}
                        <form method="post" action="/invitation" class="stack" novalidate>
                            <input type="hidden" name="token" value=token />
                            {if d.existing_account {
                                view! {
                                    <CurrentPasswordField
                                        name="password"
                                        label="Your password"
                                        errors=errors
                                    />
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <NewPasswordField label="Choose a password" errors=errors />
                                }
                                    .into_any()
                            }}
                            <button type="submit" class="button button-primary">
                                "Join"
                            </button>
                        </form>
                    }
                },
            )}
        </AuthCard>
    }
}
