//! `GET /api/v1/openapi.json`: the agent API described as OpenAPI 3.1, from
//! the handlers' annotations and answer types (so it cannot drift from them
//! without the schema test noticing).

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agent identity API",
        description = "OAuth 2.0 client credentials for AI agents, and the agents' view of their tenant's usage. \
            Every authenticated `/api/v1` call counts against the tenant's daily API-call limit; \
            the X-RateLimit-* headers say where it stands.",
    ),
    paths(
        super::oauth::token,
        super::oauth::introspect,
        super::oauth::revoke,
        super::me,
        super::analytics::tokens,
        super::analytics::activity,
        super::analytics::agents,
        super::audit::list,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "oauth", description = "Tokens: issue (RFC 6749 §4.4), introspect (RFC 7662), revoke (RFC 7009)"),
        (name = "agents", description = "The calling agent"),
        (name = "analytics", description = "The tenant's usage; needs the `analytics:read` scope"),
        (name = "audit", description = "Who changed what in the tenant; needs the `audit:read` scope"),
    )
)]
struct AgentApi;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

pub async fn document(State(state): State<AppState>) -> Response {
    let mut doc = AgentApi::openapi();
    doc.servers = Some(vec![Server::new(state.issuer())]);
    // utoipa fills in the crate's license field, which the portal has none of.
    doc.info.license = None;
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
