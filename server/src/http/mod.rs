//! The axum router: where every request goes.

pub mod agents;
pub mod analytics;
pub mod analytics_api;
pub mod api_v1;
pub mod billing;
pub mod error;
pub mod guard;
pub mod oauth;
pub mod rate_limit;
pub mod render;
pub mod security;
pub mod sign_in;

use axum::middleware;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;

use crate::sessions::PortalSessionStore;
use crate::state::AppState;

pub fn router(state: AppState, sessions: PortalSessionStore) -> Router {
    let routes = generate_route_list(app::App);
    let session_layer = sessions.layer(&state.config);
    let options = state.leptos.clone();
    let agent_api = Router::new()
        .route("/agents/me", get(api_v1::agent_me))
        .route("/analytics/tokens", get(analytics_api::tokens))
        .route("/analytics/activity", get(analytics_api::activity))
        .route("/analytics/agents", get(analytics_api::agents))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            api_v1::require_agent,
        ));
    let api_v1 = Router::new()
        .route("/token", post(oauth::token))
        .route("/token/introspect", post(oauth::introspect))
        .route("/token/revoke", post(oauth::revoke))
        .merge(agent_api);
    Router::new()
        .nest("/api/v1", api_v1)
        .route("/.well-known/jwks.json", get(oauth::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth::metadata),
        )
        .route("/", get(|| async { Redirect::to("/analytics") }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/login", post(sign_in::sign_in))
        .route("/logout", post(sign_in::sign_out))
        .route("/api/tiers/upgrade", post(billing::upgrade))
        .route("/api/tiers/portal", post(billing::manage))
        .route("/api/stripe/webhook", post(billing::stripe_webhook))
        .route("/agents", post(agents::create))
        .route("/analytics/export/daily.csv", get(analytics::daily_csv))
        .route("/analytics/export/agents.csv", get(analytics::agents_csv))
        .route("/analytics/time-zone", post(analytics::set_time_zone))
        .route("/agents/{id}/status", post(agents::change_status))
        .route("/agents/{id}/rotate", post(agents::rotate))
        .leptos_routes_with_context(&state, routes, state.page_context(), move || {
            app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            guard::require_member,
        ))
        .layer(session_layer)
        .layer(middleware::from_fn(security::headers))
        .layer(CompressionLayer::new())
        .with_state(state)
}
