use leptos::prelude::*;

use crate::components::form_field::{CurrentPasswordField, NewPasswordField};
use crate::components::layout::{form_outcome, AppShell};
use crate::components::loaded::loaded;
use crate::model::team::OrganisationChoice;
use crate::server_fns::team::my_organisations;
use crate::session::current_member;

use super::outcome_of;

/// `/settings/account`: the member's address, password and sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let member = current_member();
    let (pw_done, pw_error, pw) = outcome_of("password");
    let (verify_done, verify_error, _) = outcome_of("verification");
    let verification = member.as_ref().map(|m| {
        if m.is_verified() {
            view! { <p data-testid="email-verified">"Your address is verified."</p> }.into_any()
        } else {
            view! {
                <p>
                    "Your address is not verified yet: until it is, you can look but not change anything."
                </p>
                <form method="post" action="/settings/account/verification">
                    <button type="submit" class="button">
                        "Send a new verification link"
                    </button>
                </form>
            }
                .into_any()
        }
    });
    let (email, role, tenant) = member
        .map(|m| (m.email, m.role.to_string(), m.tenant_name))
        .unwrap_or_default();
    view! {
        <AppShell title="My account">
            <section class="panel">
                <h2>"You"</h2>
                <dl class="pairs">
                    <dt>"E-mail"</dt>
                    <dd data-testid="account-email">{email}</dd>
                    <dt>"Organisation"</dt>
                    <dd>{tenant}</dd>
                    <dt>"Role"</dt>
                    <dd>{role}</dd>
                </dl>
                {form_outcome(verify_done, verify_error)}
                {verification}
            </section>
            <section class="panel">
                <h2>"Change password"</h2>
                {form_outcome(pw_done, pw_error)}
                <form method="post" action="/settings/account/password" class="stack" novalidate>
                    <CurrentPasswordField
                        name="current_password"
                        label="Current password"
                        errors=pw.errors.clone()
                    />
                    <NewPasswordField
                        label="New password"
                        errors=pw.errors.clone()
                        help="At least 12 characters. Every other session of yours ends."
                    />
                    <button type="submit" class="button button-primary">
                        "Change password"
                    </button>
                </form>
            </section>
            <section class="panel">
                <h2>"Your organisations"</h2>
                {loaded(my_organisations, "Loading…", |orgs| view! { <Organisations orgs /> })}
            </section>
            <section class="panel">
                <h2>"Sessions"</h2>
                <p class="muted">
                    "Lost a laptop, or signed in somewhere you should not have? End every session of your account, this one included."
                </p>
                <form method="post" action="/settings/account/sign-out-everywhere">
                    <button type="submit" class="button button-danger">
                        "Sign out everywhere"
                    </button>
                </form>
            </section>
        </AppShell>
    }
}

/// Every organisation the person belongs to; one password and one sign-in
/// reach them all, and this switches between them.
#[component]
fn Organisations(orgs: Vec<OrganisationChoice>) -> impl IntoView {
    let rows = orgs
        .into_iter()
        .map(|o| {
            let action = (!o.current).then(|| {
                view! {
                    <form method="post" action="/settings/account/switch" class="inline-form">
                        <input type="hidden" name="member" value=o.member_id.clone() />
                        <button type="submit" class="button">
                            "Switch"
                        </button>
                    </form>
                }
            });
            let current = o.current.then_some(" (this one)");
            view! {
                <li class="row-actions" data-testid="organisation">
                    <strong>{o.organisation}</strong>
                    {format!(" · {}", o.role)}
                    {current}
                    {action}
                </li>
            }
        })
        .collect_view();
    view! {
        <ul class="plain-list">{rows}</ul>
        <p class="muted small">
            "An invitation to another organisation joins it with this same account and password."
        </p>
    }
}
