//! The Agents pages' form posts: create, change status and resources,
//! rotate and retire secrets.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::provide_context;
use serde::Deserialize;

use app::domain::agents::{self, credentials, NewAgent};
use app::domain::audit::By;
use app::domain::Error;
use app::model::forms::{AgentActionError, AgentFormState, AgentResourcesForm, RevealedSecret};
use app::model::{AgentStatus, CurrentMember, Overlap, SecretExpiry};

use super::form::{page, FormPage};
use crate::http::error::PageError;
use crate::http::extract::{ClientIp, Manager};
use crate::state::AppState;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    agent_type: String,
    version: String,
    capabilities: String,
    owner: String,
    environment: String,
    secret_expires: String,
    resources: String,
}

pub async fn create(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Form(form): Form<CreateForm>,
) -> Result<Response, PageError> {
    let new = NewAgent {
        name: form.name.clone(),
        agent_type: form.agent_type.clone(),
        version: form.version.clone(),
        capabilities: vec![form.capabilities.clone()],
        owner: form.owner.clone(),
        environment: form.environment.clone(),
        secret_expires: form.secret_expires.clone(),
        resources: form.resources.clone(),
    };
    let created = agents::create(
        &state.db,
        &state.keys.get(),
        &member.tenant_id,
        new,
        state.now(),
        &By::member(&member.email, &ip),
    )
    .await;
    let form_page = FormPage {
        state: &state,
        member: Some(&member),
        path: "/agents".into(),
    };
    let (agent, secret) = form_page
        .or_show(created, |problem| AgentFormState {
            name: form.name,
            agent_type: form.agent_type,
            version: form.version,
            capabilities: form.capabilities,
            owner: form.owner,
            environment: form.environment,
            secret_expires: form.secret_expires,
            resources: form.resources,
            errors: problem.field_errors(),
            limit_reached: problem.code == "agent_limit_reached",
        })
        .await?;
    let revealed = RevealedSecret {
        label: credentials::label_of(&secret),
        secret: secret.0,
        previous_until: None,
        rotated: false,
    };
    let path = format!("/agents/{}", agent.id);
    let context = move || provide_context(revealed.clone());
    page(&state, Some(member), &path, context, StatusCode::CREATED).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    action: String,
    confirm: Option<String>,
}

pub async fn change_status(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> Result<Response, PageError> {
    known_shape(&id)?;
    let status = match form.action.as_str() {
        "suspend" => Ok(AgentStatus::Suspended),
        "reactivate" => Ok(AgentStatus::Active),
        "decommission" if form.confirm.as_deref() == Some("yes") => Ok(AgentStatus::Decommissioned),
        "decommission" => Err(Error::invalid_field(
            "confirm",
            "Tick the confirmation to decommission this agent.",
        )),
        _ => Err(Error::invalid_field("action", "Unknown action.")),
    };
    let done = match status {
        Ok(status) => {
            agents::set_status(
                &state.db,
                &state.clients,
                &member.tenant_id,
                &id,
                status,
                state.now(),
                &By::member(&member.email, &ip),
            )
            .await
        }
        Err(e) => Err(e),
    };
    action_page(&state, &member, &id)
        .or_show(done, refused)
        .await?;
    Ok(Redirect::to(&format!("/agents/{id}?done={}", form.action)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RotateForm {
    /// `1h`, `24h` (the default), `7d`, `30d`.
    overlap: String,
    /// `never` (the default) or 30, 90, 180, 365 (days).
    secret_expires: String,
}

pub async fn rotate(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(form): Form<RotateForm>,
) -> Result<Response, PageError> {
    known_shape(&id)?;
    let now = state.now();
    let overlap = match form.overlap.trim() {
        "" => Ok(Overlap::Day),
        o => o
            .parse::<Overlap>()
            .map_err(|e| Error::invalid_field("overlap", e)),
    };
    let expiry = form
        .secret_expires
        .parse::<SecretExpiry>()
        .map_err(|e| Error::invalid_field("secret_expires", e));
    let rotated = match (overlap, expiry) {
        (Ok(overlap), Ok(expiry)) => {
            credentials::rotate(
                &state.db,
                &state.keys.get(),
                &state.clients,
                &member.tenant_id,
                &id,
                overlap,
                expiry,
                now,
                &By::member(&member.email, &ip),
            )
            .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let rotated = action_page(&state, &member, &id)
        .or_show(rotated, refused)
        .await?;
    let revealed = RevealedSecret {
        secret: rotated.secret.0,
        label: rotated.credential.label,
        previous_until: rotated.previous_until,
        rotated: true,
    };
    let context = move || provide_context(revealed.clone());
    page(
        &state,
        Some(member),
        &format!("/agents/{id}"),
        context,
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResourcesForm {
    /// Absolute URIs, one a line (or separated by spaces or commas).
    resources: String,
}

/// The resources (RFC 8707) the agent may ask tokens for.
pub async fn set_resources(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    Form(form): Form<ResourcesForm>,
) -> Result<Response, PageError> {
    known_shape(&id)?;
    let changed = agents::set_resources(
        &state.db,
        &state.clients,
        &member.tenant_id,
        &id,
        &form.resources,
        state.now(),
        &By::member(&member.email, &ip),
    )
    .await;
    action_page(&state, &member, &id)
        .or_show(changed, |problem| AgentResourcesForm {
            resources: form.resources,
            errors: problem.field_errors(),
        })
        .await?;
    Ok(Redirect::to(&format!("/agents/{id}?done=resources")).into_response())
}

/// "Retire now": the secret stops working at once.
pub async fn retire(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Path((id, credential)): Path<(String, String)>,
) -> Result<Response, PageError> {
    known_shape(&id)?;
    let retired = credentials::retire(
        &state.db,
        &state.clients,
        &member.tenant_id,
        &id,
        &credential,
        state.now(),
        &By::member(&member.email, &ip),
    )
    .await;
    action_page(&state, &member, &id)
        .or_show(retired, refused)
        .await?;
    Ok(Redirect::to(&format!("/agents/{id}?done=retire")).into_response())
}

/// A path id that cannot be an agent's: 404, before anything renders it.
fn known_shape(id: &str) -> Result<(), PageError> {
    if agents::is_agent_id(id) {
        Ok(())
    } else {
        Err(PageError::from(Error::NotFound(
            app::domain::error::Thing::Agent,
        )))
    }
}

fn action_page<'a>(state: &'a AppState, member: &'a CurrentMember, id: &str) -> FormPage<'a> {
    FormPage {
        state,
        member: Some(member),
        path: format!("/agents/{id}"),
    }
}

fn refused(problem: &app::domain::Problem) -> AgentActionError {
    AgentActionError(problem.message.clone())
}
