//! The Agents pages' form posts: create, change status, rotate the secret.
//! Plain HTML forms, so they work without JavaScript.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use leptos::prelude::provide_context;
use serde::Deserialize;

use app::domain::agents::{self, NewAgent};
use app::domain::Error;
use app::model::{AgentStatus, CurrentMember};
use app::pages::agent_detail::{AgentActionError, RevealedSecret};
use app::pages::agents::AgentFormState;

use super::error::{status_of, ApiError};
use super::render;
use super::security::refuse_unless_manager;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CreateForm {
    name: String,
    agent_type: String,
    version: String,
    capabilities: String,
    owner: String,
    environment: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(member): Extension<CurrentMember>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Response {
    if let Some(refusal) = refuse_unless_manager(&member, &headers, "change agents") {
        return refusal;
    }
    let new = NewAgent {
        name: form.name.clone(),
        agent_type: form.agent_type.clone(),
        version: form.version.clone(),
        capabilities: vec![form.capabilities.clone()],
        owner: form.owner.clone(),
        environment: form.environment.clone(),
    };
    match agents::create(&state.db, &state.keys, &member.tenant_id, new, state.now()).await {
        Ok((agent, secret)) => {
            let revealed = RevealedSecret {
                secret: secret.0,
                rotated: false,
            };
            let path = format!("/agents/{}", agent.id);
            render::page(
                &state,
                Some(member),
                &path,
                move || provide_context(revealed.clone()),
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let (status, _) = status_of(&e);
            if status.is_server_error() {
                return ApiError::from(e).into_response();
            }
            let state_for_form = AgentFormState {
                name: form.name,
                agent_type: form.agent_type,
                version: form.version,
                capabilities: form.capabilities,
                owner: form.owner,
                environment: form.environment,
                limit_reached: matches!(e, Error::AgentLimitReached { .. }),
                error: Some(e.to_string()),
            };
            render::page(
                &state,
                Some(member),
                "/agents",
                move || provide_context(state_for_form.clone()),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusForm {
    action: String,
    confirm: Option<String>,
}

pub async fn change_status(
    State(state): State<AppState>,
    Extension(member): Extension<CurrentMember>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StatusForm>,
) -> Response {
    if let Some(refusal) = refuse_unless_manager(&member, &headers, "change agents") {
        return refusal;
    }
    let path = format!("/agents/{id}");
    let status = match form.action.as_str() {
        "suspend" => AgentStatus::Suspended,
        "reactivate" => AgentStatus::Active,
        "decommission" if form.confirm.as_deref() == Some("yes") => AgentStatus::Decommissioned,
        "decommission" => {
            let error =
                AgentActionError("Tick the confirmation to decommission this agent.".into());
            return render::page(
                &state,
                Some(member),
                &path,
                move || provide_context(error.clone()),
                StatusCode::BAD_REQUEST,
            )
            .await;
        }
        _ => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unknown action.",
            )
            .into_response()
        }
    };
    match agents::set_status(&state.db, &member.tenant_id, &id, status, state.now()).await {
        Ok(_) => Redirect::to(&format!("{path}?done={}", form.action)).into_response(),
        Err(e) => action_failed(&state, member, &path, e).await,
    }
}

pub async fn rotate(
    State(state): State<AppState>,
    Extension(member): Extension<CurrentMember>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refuse_unless_manager(&member, &headers, "change agents") {
        return refusal;
    }
    let path = format!("/agents/{id}");
    match agents::rotate_secret(&state.db, &state.keys, &member.tenant_id, &id, state.now()).await {
        Ok(secret) => {
            let revealed = RevealedSecret {
                secret: secret.0,
                rotated: true,
            };
            render::page(
                &state,
                Some(member),
                &path,
                move || provide_context(revealed.clone()),
                StatusCode::OK,
            )
            .await
        }
        Err(e) => action_failed(&state, member, &path, e).await,
    }
}

async fn action_failed(state: &AppState, member: CurrentMember, path: &str, e: Error) -> Response {
    let (status, _) = status_of(&e);
    if status.is_server_error() || status == StatusCode::NOT_FOUND {
        return ApiError::from(e).into_response();
    }
    let error = AgentActionError(e.to_string());
    render::page(
        state,
        Some(member),
        path,
        move || provide_context(error.clone()),
        status,
    )
    .await
}
