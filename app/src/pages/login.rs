use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::components::layout::AuthCard;
use crate::model::forms::LoginFormState;
use crate::model::DemoAccounts;
use crate::session::signup_open;

#[component]
pub fn LoginPage() -> impl IntoView {
    let state = use_context::<LoginFormState>().unwrap_or_default();
    let next = use_query_map()
        .with_untracked(|q| q.get("next"))
        .unwrap_or_default();
    let error = state.error.map(|message| {
        view! {
            <p class="form-error" role="alert" data-testid="login-error">
                {message}
            </p>
        }
    });
    let notice = state.notice.map(|message| {
        view! {
            <p class="form-done" role="status" data-testid="login-notice">
                {message}
            </p>
        }
    });
    let sign_up = signup_open().then(|| {
        view! { <p class="muted">"New here? " <a href="/signup">"Create an organisation"</a></p> }
    });
    let demo = use_context::<DemoAccounts>()
        .filter(|d| !d.accounts.is_empty())
        .map(|d| {
            let rows = d
                .accounts
                .into_iter()
                .map(|(email, what)| {
                    view! {
                        <li>
                            <code>{email}</code>
                            " — "
                            {what}
                        </li>
                    }
                })
                .collect_view();
            view! {
                <aside class="demo-accounts">
                    <h2>"Demo mode"</h2>
                    <p>"Every demo account uses the password "<code>{d.password}</code>"."</p>
                    <ul>{rows}</ul>
                </aside>
            }
        });
    view! {
        <AuthCard title="Sign in" after=demo.map(IntoAny::into_any)>
            <p class="muted">"Tenant admins sign in to see their agents' usage and plan."</p>
            {notice}
            {error}
            <form method="post" action="/login" class="stack">
                <input type="hidden" name="next" value=next />
                <label for="email">"Email"</label>
                <input
                    id="email"
                    name="email"
                    type="email"
                    autocomplete="username"
                    required
                    value=state.email
                    autofocus
                />
                <label for="password">"Password"</label>
                <input
                    id="password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <button type="submit" class="button button-primary">
                    "Sign in"
                </button>
            </form>
            <p class="muted">
                <a href="/forgot-password">"Forgot your password?"</a>
            </p>
            {sign_up}
        </AuthCard>
    }
}
