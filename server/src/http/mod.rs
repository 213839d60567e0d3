//! The axum router: where every request goes. Each part brings its routes
//! and its guard: the portal (session), the agent API (client credentials
//! and bearer tokens), Stripe's webhook (its signature).

mod access_log;
pub mod agent_api;
pub mod assets;
pub mod csv;
pub mod error;
pub mod extract;
mod health;
mod page_compression;
pub mod portal;
pub mod security;
mod stripe_webhook;

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::limit::RequestBodyLimitLayer;
use tower_sessions::Session;

use crate::sessions::PortalSessionStore;
use crate::state::AppState;

pub fn router(state: AppState, sessions: PortalSessionStore) -> Router {
    let session_layer = sessions.layer(&state.config);
    // Every body has a ceiling: forms and server functions are small, a
    // Stripe event a little larger.
    let webhook = Router::new().route("/api/stripe/webhook", post(stripe_webhook::receive));
    // Only the portal's routes and the pages' fallback have members and
    // pages: the agent API, the webhook and the assets skip the session
    // layers and the page compressor, each a poll deeper on every request
    // (twice over for a token, which waits for its count).
    let pages = |router: Router<AppState>| {
        router
            .layer(session_layer.clone())
            .layer(middleware::from_fn(page_compression::html))
    };
    Router::new()
        .merge(pages(limit_body(portal::router(&state), 64 * 1024)))
        .merge(limit_body(agent_api::router(&state), 16 * 1024))
        .merge(limit_body(webhook, 512 * 1024))
        .merge(assets::router(&state))
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .fallback_service(
            pages(Router::new().fallback(files_or_not_found)).with_state(state.clone()),
        )
        .layer(middleware::from_fn_with_state(
            state.config.is_https(),
            security::headers,
        ))
        // Pages are gzipped whole, inside; every other body (exports, API
        // answers) is compressed as it streams. Level 2, not 1: zlib-rs'
        // level 1 only uses fixed Huffman codes, 25 % more bytes for about
        // 40 µs less on a 50 kB body.
        .layer(CompressionLayer::new().quality(CompressionLevel::Precise(2)))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            access_log::log,
        ))
        .with_state(state)
}

/// Bodies over `max` bytes are refused before anything reads them: 413 with
/// a message that says so.
fn limit_body(router: Router<AppState>, max: usize) -> Router<AppState> {
    router
        .layer(RequestBodyLimitLayer::new(max))
        .layer(middleware::map_response(move |res: Response| async move {
            if res.status() != StatusCode::PAYLOAD_TOO_LARGE {
                return res;
            }
            let message = format!(
                "The request body is larger than this endpoint accepts ({} KiB).",
                max / 1024
            );
            error::ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", message)
                .into_response()
        }))
}

/// Built assets, or the "not found" page (with the member's header when
/// signed in).
async fn files_or_not_found(
    uri: Uri,
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
) -> Response {
    if uri.path().starts_with("/api/") {
        let missing = error::ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.");
        return missing.into_response();
    }
    if !assets::is_asset(uri.path()) {
        if let Ok(Some(member)) = extract::member_of(&state, &session).await {
            req.extensions_mut().insert(member);
            portal::insert_standing(&state, req.extensions_mut()).await;
        }
    }
    // With the pages' context, as every page.
    let handler = leptos_axum::file_and_error_handler_with_context::<AppState, _>(
        state.page_context(),
        app::shell,
    );
    handler(uri, State(state), req).await
}
