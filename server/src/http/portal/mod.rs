//! The portal for tenant admins: pages (Leptos routes), their form posts and
//! downloads, all behind a session; sign-in and sign-out are public.

mod agents;
mod analytics;
mod billing;
pub mod form;
mod sign_in;
mod stalled;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tower_sessions::Session;

use app::session::safe_next;

use super::access_log::TenantOfRequest;
use super::error::ApiError;
use super::extract::member_of;
use crate::state::AppState;

/// The sign-in page is the one page without a session.
const SIGN_IN: &str = "/login";

pub fn router(state: &AppState) -> Router<AppState> {
    let member_pages: Vec<AxumRouteListing> = generate_route_list(app::App)
        .into_iter()
        .filter(|route| route.path() != SIGN_IN)
        .collect();
    // Pages and server functions: every one needs a member.
    let members = Router::new()
        .route("/", get(|| async { Redirect::to("/analytics") }))
        .route("/agents", post(agents::create))
        .route("/agents/{id}/status", post(agents::change_status))
        .route("/agents/{id}/rotate", post(agents::rotate))
        .route("/analytics/export/daily.csv", get(analytics::daily_csv))
        .route("/analytics/export/agents.csv", get(analytics::agents_csv))
        .route("/analytics/time-zone", post(analytics::set_time_zone))
        .route("/api/tiers/upgrade", post(billing::upgrade))
        .route("/api/tiers/portal", post(billing::manage))
        .leptos_routes_with_context(state, member_pages, state.page_context(), shell(state))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_member,
        ))
        // Outside the guard: a retried render is guarded again.
        .route_layer(stalled::RetryStalledRenders);
    let sign_in_page =
        leptos_axum::render_app_async_with_context(state.page_context(), shell(state));
    let sign_in = Router::new()
        .route(SIGN_IN, get(sign_in_page).post(sign_in::sign_in))
        .route("/logout", post(sign_in::sign_out))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            away_if_signed_in,
        ));
    members.merge(sign_in)
}

fn shell(
    state: &AppState,
) -> impl Fn() -> leptos::prelude::AnyView + Clone + Send + Sync + 'static {
    let options = state.leptos.clone();
    move || leptos::prelude::IntoAny::into_any(app::shell(options.clone()))
}

/// The guard of every member route: the member goes into the request (pages
/// and the `Member` extractor read it there); without one, a page asks to
/// sign in first and comes back, an endpoint answers 401.
async fn require_member(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(member) = member_of(&state, &session).await? {
        let tenant = TenantOfRequest(member.tenant_id.clone());
        req.extensions_mut().insert(member);
        let mut res = next.run(req).await;
        res.extensions_mut().insert(tenant);
        return Ok(res);
    }
    let path = req.uri().path();
    if path.starts_with("/api/") {
        return Err(ApiError::unauthenticated());
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok((StatusCode::UNAUTHORIZED, "Sign in first.").into_response());
    }
    let wanted = req
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let to = format!(
        "{SIGN_IN}?next={}",
        utf8_percent_encode(&wanted, NON_ALPHANUMERIC)
    );
    Ok(Redirect::to(&to).into_response())
}

/// A signed-in member has no business on the sign-in form: on to `next`.
async fn away_if_signed_in(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::GET && req.uri().path() == SIGN_IN {
        if let Ok(Some(_)) = member_of(&state, &session).await {
            let wanted = req.uri().query().and_then(|q| url_query_value(q, "next"));
            return Redirect::to(&safe_next(wanted.as_deref())).into_response();
        }
    }
    next.run(req).await
}

/// One value of an `application/x-www-form-urlencoded` query string.
pub fn url_query_value(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
