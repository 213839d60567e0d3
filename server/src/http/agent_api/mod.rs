//! The API agents call: OAuth 2.0 (token, introspection, revocation, JWKS,
//! metadata) with client credentials, and `/api/v1` resources with a bearer
//! token. Every authenticated resource request counts as one API call against
//! the tenant's daily limit.

mod analytics;
mod audit;
pub mod oauth;
mod openapi;
pub mod rate_limit;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use app::domain::metering::{Admission, UsageKind};
use app::domain::tokens::{self, Claims};
use app::domain::{agents, scopes, Error};
use app::model;

use super::access_log::TenantOfRequest;
use super::error::ApiError;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    // Scopes per endpoint: `agents/me` needs none (any valid token of the
    // agent); the analytics endpoints need `analytics:read`, the audit trail
    // `audit:read`.
    let analytics = Router::new()
        .route("/analytics/tokens", get(analytics::tokens))
        .route("/analytics/activity", get(analytics::activity))
        .route("/analytics/agents", get(analytics::agents))
        .route_layer(middleware::from_fn(|req, next| {
            require_scope(ANALYTICS_READ, req, next)
        }));
    let audit = Router::new()
        .route("/audit", get(audit::list))
        .route_layer(middleware::from_fn(|req, next| {
            require_scope(AUDIT_READ, req, next)
        }));
    let resources = Router::new()
        .route("/agents/me", get(me))
        .merge(analytics)
        .merge(audit)
        .route_layer(middleware::from_fn_with_state(state.clone(), require_agent));
    let api_v1 = Router::new()
        .route("/token", post(oauth::token))
        .route("/token/introspect", post(oauth::introspect))
        .route("/token/revoke", post(oauth::revoke))
        .route("/openapi.json", get(openapi::document))
        .merge(resources);
    Router::new()
        .nest("/api/v1", api_v1)
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
}

/// The guard of every resource: a valid bearer token of an active agent,
/// within the tenant's daily API-call limit. The token's claims go into the
/// request (the `Agent` extractor reads them); the answer carries the quota.
async fn require_agent(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Response> {
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
    let refuse = |e: Error| axum::response::IntoResponse::into_response(ApiError::from(e));
    let Some(token) = bearer else {
        let mut problem = Error::InvalidToken.classify();
        problem.message =
            "Send an access token from /api/v1/token as `Authorization: Bearer <token>`.".into();
        return Err(axum::response::IntoResponse::into_response(ApiError(
            problem,
        )));
    };
    let claims = tokens::verify(&state, &token).await.map_err(refuse)?;
    let admission = state
        .meter
        .admit(&claims.tenant_id, &claims.sub, UsageKind::ApiCall)
        .await
        .map_err(refuse)?;
    match admission {
        Admission::Admitted(quota) => {
            let tenant = TenantOfRequest(claims.tenant_id.clone());
            req.extensions_mut().insert(claims);
            let mut res = next.run(req).await;
            res.extensions_mut().insert(tenant);
            rate_limit::set_headers(res.headers_mut(), &quota);
            Ok(res)
        }
        Admission::Refused(quota) => Err(rate_limit::quota_exceeded(
            UsageKind::ApiCall,
            &quota,
            state.now(),
            state.issuer(),
        )),
    }
}

const ANALYTICS_READ: &str = "analytics:read";
const AUDIT_READ: &str = "audit:read";

/// 403 `insufficient_scope` (RFC 6750 §3.1) unless the token's scope covers
/// `needed`. Runs inside `require_agent`, which put the claims there.
async fn require_scope(needed: &'static str, req: Request, next: Next) -> Response {
    let allowed = req
        .extensions()
        .get::<Claims>()
        .is_some_and(|c| scopes::allows(&c.scope, needed));
    if allowed {
        return next.run(req).await;
    }
    let message = format!(
        "This endpoint needs the {needed} scope: give the agent that capability and request a new token."
    );
    let mut res = axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_scope",
        message,
    ));
    let challenge =
        format!("Bearer realm=\"agent-id\", error=\"insufficient_scope\", scope=\"{needed}\"");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    res
}

/// The calling agent, as its bearer token says (`require_agent` checked it).
pub struct Agent(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Agent {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Claims>()
            .cloned()
            .map(Agent)
            .ok_or_else(|| ApiError::from(Error::InvalidToken))
    }
}

/// The calling agent's own record. Any valid token of the agent will do.
#[utoipa::path(
    get, path = "/api/v1/agents/me", tag = "agents",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The agent", body = model::Agent, headers(
            ("X-RateLimit-Limit" = String, description = "API calls per day, or `unlimited`"),
            ("X-RateLimit-Remaining" = String, description = "API calls left today, or `unlimited`"),
            ("X-RateLimit-Reset" = i64, description = "Unix time of the next 00:00 UTC"),
        )),
        (status = 401, description = "No valid bearer token", body = super::error::ErrorBody,
            headers(("WWW-Authenticate" = String))),
        (status = 429, description = "Daily API-call limit reached", body = rate_limit::RateLimitExceeded,
            headers(("Retry-After" = i64, description = "Seconds until the limit resets"))),
    )
)]
async fn me(
    State(state): State<AppState>,
    Agent(claims): Agent,
) -> Result<Json<model::Agent>, ApiError> {
    Ok(Json(
        agents::get(&state.db, &claims.tenant_id, &claims.sub).await?,
    ))
}
