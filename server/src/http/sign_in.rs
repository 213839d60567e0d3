//! `POST /login` and `POST /logout`: plain form posts, so signing in works
//! without JavaScript.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use leptos::prelude::provide_context;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use tower_sessions::Session;

use app::domain::sign_in::{self, Attempt};
use app::domain::Error;
use app::pages::login::LoginFormState;
use app::session::safe_next;

use super::error::{status_of, ApiError};
use super::render;
use super::security::is_same_origin;
use crate::sessions::MEMBER_ID;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SignInForm {
    email: String,
    password: String,
    next: Option<String>,
}

/// The peer address of the connection (proxies are not trusted).
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if !is_same_origin(&headers) {
        return ApiError::cross_site().into_response();
    }
    let next = safe_next(form.next.as_deref());
    let attempt = Attempt {
        email: &form.email,
        password: &form.password,
        ip: &ip,
    };
    match sign_in::sign_in(&state.db, attempt, state.now()).await {
        Ok(member_id) => {
            // A new id at every sign-in: a session id planted before cannot be reused.
            let started = async {
                session.cycle_id().await?;
                session.insert(MEMBER_ID, member_id).await
            };
            match started.await {
                Ok(()) => Redirect::to(&next).into_response(),
                Err(e) => ApiError::from(Error::Internal(e.to_string())).into_response(),
            }
        }
        Err(e) => {
            let (status, _) = status_of(&e);
            if status.is_server_error() {
                return ApiError::from(e).into_response();
            }
            let mut res = render_login_form(&state, &next, form.email, e.to_string()).await;
            *res.status_mut() = status;
            if let Error::SignInThrottled { retry_after_secs } = e {
                res.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            }
            res
        }
    }
}

/// The sign-in page again, with the message and the e-mail typed.
async fn render_login_form(state: &AppState, next: &str, email: String, error: String) -> Response {
    let form_state = LoginFormState {
        error: Some(error),
        email,
    };
    let uri = format!(
        "/login?next={}",
        utf8_percent_encode(next, NON_ALPHANUMERIC)
    );
    render::page(
        state,
        None,
        &uri,
        move || provide_context(form_state.clone()),
        StatusCode::OK,
    )
    .await
}

pub async fn sign_out(session: Session, headers: HeaderMap) -> Response {
    if !is_same_origin(&headers) {
        return ApiError::cross_site().into_response();
    }
    match session.flush().await {
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
