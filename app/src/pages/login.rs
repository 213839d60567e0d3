use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::model::forms::LoginFormState;
use crate::model::DemoAccounts;

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
        <Title text="Sign in" />
        <main class="auth-page" id="main">
            <div class="auth-card">
                <p class="brand">
                    <span class="brand-mark" aria-hidden="true">
                        "◆"
                    </span>
                    <span class="brand-name">{crate::PRODUCT_NAME}</span>
                </p>
                <h1>"Sign in"</h1>
                <p class="muted">"Tenant admins sign in to see their agents' usage and plan."</p>
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
            </div>
            {demo}
        </main>
    }
}
