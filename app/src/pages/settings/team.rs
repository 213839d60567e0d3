use leptos::prelude::*;

use crate::components::data_table::data_table;
use crate::components::form_field::{field_error, invalid};
use crate::components::format::{last_seen, utc_time};
use crate::components::layout::{form_outcome, AppShell};
use crate::components::loaded::loaded;
use crate::model::team::{PendingInvitation, TeamMember};
use crate::model::Role;
use crate::server_fns::team::{team_overview, TeamPageData};

use super::outcome_of;

/// `/settings/team`: who is in the tenant, with which role, and who is
/// invited. Everyone sees it; owners change it; admins invite viewers.
#[component]
pub fn TeamPage() -> impl IntoView {
    view! {
        <AppShell title="Team">
            {loaded(team_overview, "Loading your team…", |d| view! { <TeamView data=d /> })}
        </AppShell>
    }
}

#[component]
fn TeamView(data: TeamPageData) -> impl IntoView {
    let owner = data.my_role == Role::Owner && data.verified;
    let can_invite = data.my_role.can_manage() && data.verified;
    let (members_done, members_error, _) = outcome_of("members");
    let (inv_done, inv_error, _) = outcome_of("invitations");
    // The last owner can be neither demoted nor removed (the server refuses
    // both): their row says so instead of offering what would fail.
    let mut owners = data.members.iter().filter(|m| m.role == Role::Owner);
    let sole_owner = match (owners.next(), owners.next()) {
        (Some(only), None) => Some(only.id.as_str()),
        _ => None,
    };
    let rows = data
        .members
        .iter()
        .map(|m| {
            member_row(
                m,
                owner,
                sole_owner == Some(m.id.as_str()),
                &data.me,
                data.now,
            )
        })
        .collect_view();
    let invitations = (!data.invitations.is_empty()).then(|| {
        let rows = data
            .invitations
            .iter()
            .map(|i| invitation_row(i, owner))
            .collect_view();
        view! {
            <section class="panel">
                <h2>"Pending invitations"</h2>
                {form_outcome(inv_done, inv_error)}
                {data_table(
                    Some("invitations"),
                    &with_actions(owner, &["E-mail", "Role", "Invited by", "Expires"]),
                    rows,
                )}
            </section>
        }
    });
    view! {
        {can_invite.then(|| view! { <InviteForm my_role=data.my_role /> })}
        <section class="panel">
            <h2>"Members"</h2>
            {form_outcome(members_done, members_error)}
            {data_table(
                Some("members"),
                &with_actions(owner, &["E-mail", "Role", "Last sign-in", "Joined"]),
                rows,
            )}
            {(!owner)
                .then(|| {
                    view! {
                        <p class="muted small">"Only owners change roles and remove members."</p>
                    }
                })}
        </section>
        {invitations}
    }
}

/// The columns, and "Actions" for an owner (the rows have theirs then).
fn with_actions(owner: bool, columns: &[&'static str]) -> Vec<&'static str> {
    let mut columns = columns.to_vec();
    if owner {
        columns.push("Actions");
    }
    columns
}

fn role_options(allowed: &[Role], selected: Role) -> impl IntoView {
    allowed
        .iter()
        .map(|r| {
            view! {
                <option value=r.as_str() selected=*r == selected>
                    {r.as_str()}
                </option>
            }
        })
        .collect_view()
}

/// `sole_owner`: the tenant's only owner, whose role stays as it is.
fn member_row(m: &TeamMember, owner: bool, sole_owner: bool, me: &str, now: i64) -> impl IntoView {
    let (seen, seen_exact) = last_seen(m.last_sign_in_at, now, "never");
    let you = (m.id == me).then_some(" (you)");
    let unverified = (!m.verified).then(|| view! { <span class="badge">"unverified"</span> });
    let actions = match (owner, sole_owner) {
        (false, _) => None,
        (true, true) => Some(
            view! {
                <td>
                    <span class="muted small" data-testid="sole-owner">
                        "Only owner: make another member an owner first."
                    </span>
                </td>
            }
            .into_any(),
        ),
        (true, false) => {
            let role_action = format!("/settings/team/members/{}/role", m.id);
            let remove_action = format!("/settings/team/members/{}/remove", m.id);
            let label = format!("Role of {}", m.email);
            Some(
                view! {
                    <td>
                        <div class="row-actions">
                            <form method="post" action=role_action class="inline-form">
                                <select name="role" aria-label=label>
                                    {role_options(&Role::ALL, m.role)}
                                </select>
                                <button type="submit" class="button">
                                    "Change"
                                </button>
                            </form>
                            <form method="post" action=remove_action class="inline-form">
                                <button type="submit" class="button button-danger">
                                    "Remove"
                                </button>
                            </form>
                        </div>
                    </td>
                }
                .into_any(),
            )
        }
    };
    view! {
        <tr data-testid="member-row">
            <td>{m.email.clone()} {you} " " {unverified}</td>
            <td data-testid="member-role">{m.role.to_string()}</td>
            <td title=seen_exact>{seen}</td>
            <td>{utc_time(m.created_at)}</td>
            {actions}
        </tr>
    }
}

fn invitation_row(i: &PendingInvitation, owner: bool) -> impl IntoView {
    let revoke = owner.then(|| {
        let action = format!("/settings/team/invitations/{}/revoke", i.id);
        view! {
            <td>
                <form method="post" action=action>
                    <button type="submit" class="button button-danger">
                        "Revoke"
                    </button>
                </form>
            </td>
        }
    });
    view! {
        <tr data-testid="invitation-row">
            <td>{i.email.clone()}</td>
            <td>{i.role.to_string()}</td>
            <td>{i.invited_by.clone()}</td>
            <td>{utc_time(i.expires_at)}</td>
            {revoke}
        </tr>
    }
}

#[component]
fn InviteForm(my_role: Role) -> impl IntoView {
    let (done, error, outcome) = outcome_of("invite");
    let errors = outcome.errors.clone();
    let value = |name: &str| {
        outcome
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // Admins invite viewers only.
    let allowed: &[Role] = if my_role == Role::Owner {
        &[Role::Viewer, Role::Admin, Role::Owner]
    } else {
        &[Role::Viewer]
    };
    let selected = value("role").parse().unwrap_or(Role::Viewer);
    view! {
        <section class="panel">
            <h2>"Invite someone"</h2>
            {form_outcome(done, error)}
            <form method="post" action="/settings/team/invite" class="inline-form" novalidate>
                <label for="invite-email" class="visually-hidden">
                    "E-mail"
                </label>
                <input
                    id="invite-email"
                    name="email"
                    type="email"
                    placeholder="name@example.com"
                    required
                    value=value("email")
                    aria-invalid=invalid(&errors, "email")
                    aria-describedby="email-error"
                />
                <label for="invite-role" class="visually-hidden">
                    "Role"
                </label>
                <select id="invite-role" name="role">
                    {role_options(allowed, selected)}
                </select>
                <button type="submit" class="button button-primary">
                    "Send invitation"
                </button>
            </form>
            {field_error(&errors, "email")}
            <p class="muted small">
                "Owners manage the team and billing; admins manage agents and invite viewers; viewers look."
            </p>
        </section>
    }
}
