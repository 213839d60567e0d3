//! The team page's form posts (invite, revoke, change a role, remove) and
//! accepting an invitation (public: the link is the proof).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use app::domain::audit::By;
use app::domain::sign_in::SignedIn;
use app::domain::team::{self, Acting};
use app::model::forms::AuthFormState;
use app::model::{CurrentMember, Role};

use super::form::{settings_answer, FormPage};
use super::sign_in::start_session;
use crate::http::error::PageError;
use crate::http::extract::{ClientIp, Manager, SameOrigin};
use crate::state::AppState;

fn acting(member: &CurrentMember, ip: &str) -> Acting {
    Acting {
        tenant_id: member.tenant_id.clone(),
        role: member.role,
        by: By::member(&member.email, ip),
    }
}

/// Answers a team form: the team page with what was done, or with the
/// problem beside the form (`form` names which one).
async fn answer(
    state: &AppState,
    member: CurrentMember,
    form: &'static str,
    result: app::domain::Result<()>,
    done: String,
    values: Vec<(&'static str, String)>,
) -> Result<Response, PageError> {
    let result = result.map(|()| done);
    settings_answer(state, member, "/settings/team", form, result, values).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    email: String,
    role: String,
}

pub async fn invite(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    let result = match form.role.parse::<Role>() {
        Ok(role) => {
            team::invite(
                &state.db,
                &acting(&member, &ip),
                &form.email,
                role,
                &state.outbox,
                state.now(),
            )
            .await
        }
        Err(e) => Err(app::domain::Error::invalid_field("role", e)),
    };
    let done = format!(
        "Invitation sent to {}. It works once, for 7 days.",
        form.email.trim().to_lowercase()
    );
    let values = vec![("email", form.email.clone()), ("role", form.role.clone())];
    answer(&state, member, "invite", result, done, values).await
}

pub async fn revoke(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let result = team::revoke_invitation(&state.db, &acting(&member, &ip), &id, state.now()).await;
    answer(
        &state,
        member,
        "invitations",
        result,
        "Invitation revoked.".into(),
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoleForm {
    role: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Result<Response, PageError> {
    let result = match form.role.parse::<Role>() {
        Ok(role) => team::set_role(&state.db, &acting(&member, &ip), &id, role, state.now()).await,
        Err(e) => Err(app::domain::Error::invalid_field("role", e)),
    };
    // Demoting oneself takes effect at once, on this very answer.
    let member = app::domain::members::current(&state.db, &member.member_id)
        .await?
        .unwrap_or(member);
    answer(
        &state,
        member,
        "members",
        result,
        "Role changed.".into(),
        vec![],
    )
    .await
}

pub async fn remove(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let result = team::remove(&state.db, &acting(&member, &ip), &id, state.now()).await;
    if result.is_ok() && id == member.member_id {
        return Ok(Redirect::to("/login").into_response());
    }
    answer(
        &state,
        member,
        "members",
        result,
        "Member removed.".into(),
        vec![],
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AcceptForm {
    token: String,
    password: String,
}

/// Accepting an invitation creates the member and signs them in.
pub async fn accept(
    State(state): State<AppState>,
    _: SameOrigin,
    session: Session,
    ClientIp(ip): ClientIp,
    Form(form): Form<AcceptForm>,
) -> Result<Response, PageError> {
    let result = team::accept(&state.db, &form.token, &form.password, &ip, state.now()).await;
    let path = format!(
        "/invitation?token={}",
        percent_encoding::utf8_percent_encode(&form.token, percent_encoding::NON_ALPHANUMERIC)
    );
    let member_id = FormPage {
        state: &state,
        member: None,
        path,
    }
    .or_show(result, |p| AuthFormState {
        errors: p.field_errors(),
        ..Default::default()
    })
    .await?;
    let who = SignedIn {
        member_id,
        session_epoch: 0,
    };
    start_session(&session, &who, state.now(), state.now()).await?;
    Ok(Redirect::to("/analytics").into_response())
}
