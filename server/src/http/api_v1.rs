//! The agents' JSON API under `/api/v1`: bearer tokens from the token
//! endpoint; every authenticated request counts as one API call against the
//! tenant's daily limit.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use app::domain::metering::{Admission, UsageKind};
use app::domain::tokens::{self, Claims};
use app::domain::{agents, Error};

use super::error::ApiError;
use super::rate_limit;
use crate::state::AppState;

fn invalid_token(message: &str) -> Response {
    let mut res = (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_token", "message": message })),
    )
        .into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"agent-id\", error=\"invalid_token\""),
    );
    res
}

pub async fn require_agent(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned);
    let Some(token) = bearer else {
        return invalid_token(
            "Send an access token from /api/v1/token as `Authorization: Bearer <token>`.",
        );
    };
    let now = state.now();
    let claims = match tokens::verify(&state.db, &state.keys, &state.issuer(), &token, now).await {
        Ok(c) => c,
        Err(Error::InvalidToken) => return invalid_token(&Error::InvalidToken.to_string()),
        Err(e) => return ApiError::from(e).into_response(),
    };
    match state
        .meter
        .admit(&claims.tenant_id, &claims.sub, UsageKind::ApiCall)
        .await
    {
        Ok(Admission::Admitted(quota)) => {
            req.extensions_mut().insert(claims);
            let mut res = next.run(req).await;
            rate_limit::set_headers(res.headers_mut(), &quota);
            res
        }
        Ok(Admission::Refused(quota)) => {
            rate_limit::quota_exceeded(UsageKind::ApiCall, &quota, now, &state.issuer())
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The calling agent's own record.
pub async fn agent_me(
    State(state): State<AppState>,
    Extension(claims): Extension<Claims>,
) -> Response {
    match agents::get(&state.db, &claims.tenant_id, &claims.sub).await {
        Ok(agent) => Json(agent).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
