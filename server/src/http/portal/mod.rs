//! The portal for tenant admins: pages (Leptos routes), their form posts and
//! downloads, all behind a session; sign-in and sign-out are public.

mod account;
mod agents;
mod analytics;
mod audit;
mod billing;
pub mod form;
mod sign_in;
mod stalled;
mod team;

use axum::extract::{Request, State};
use axum::http::{Extensions, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tower_sessions::Session;

use app::domain::limits;
use app::model::CurrentMember;
use app::session::safe_next;

use super::access_log::TenantOfRequest;
use super::error::ApiError;
use super::extract::member_of;
use crate::state::AppState;

const SIGN_IN: &str = "/login";
const SIGN_UP: &str = "/signup";
/// Pages for people without a session: sign-in, sign-up, and the pages the
/// e-mailed links open.
const PUBLIC_PAGES: [&str; 6] = [
    SIGN_IN,
    SIGN_UP,
    "/verify-email",
    "/forgot-password",
    "/reset-password",
    "/invitation",
];

pub fn router(state: &AppState) -> Router<AppState> {
    let member_pages: Vec<AxumRouteListing> = generate_route_list(app::App)
        .into_iter()
        .filter(|route| !PUBLIC_PAGES.contains(&route.path()))
        .collect();
    // Pages and server functions: every one needs a member.
    let members = Router::new()
        .route("/", get(|| async { Redirect::to("/analytics") }))
        .route("/agents", post(agents::create))
        .route("/agents/{id}/status", post(agents::change_status))
        .route("/agents/{id}/rotate", post(agents::rotate))
        .route("/agents/{id}/resources", post(agents::set_resources))
        .route(
            "/agents/{id}/credentials/{credential}/retire",
            post(agents::retire),
        )
        .route("/analytics/export/daily.csv", get(analytics::daily_csv))
        .route("/analytics/export/agents.csv", get(analytics::agents_csv))
        .route("/analytics/time-zone", post(analytics::set_time_zone))
        .route("/api/tiers/upgrade", post(billing::upgrade))
        .route("/api/tiers/portal", post(billing::manage))
        .route(
            "/settings/account/verification",
            post(account::resend_verification),
        )
        .route("/settings/account/password", post(account::change_password))
        .route(
            "/settings/account/switch",
            post(account::switch_organisation),
        )
        .route(
            "/settings/account/sign-out-everywhere",
            post(account::sign_out_everywhere),
        )
        .route("/settings/team/invite", post(team::invite))
        .route("/settings/team/invitations/{id}/revoke", post(team::revoke))
        .route("/settings/team/members/{id}/role", post(team::set_role))
        .route("/settings/team/members/{id}/remove", post(team::remove))
        .route("/settings/audit/export.csv", get(audit::csv))
        .merge(
            Router::new()
                .leptos_routes_with_context(state, member_pages, state.page_context(), shell(state))
                .route_layer(middleware::from_fn_with_state(state.clone(), with_standing)),
        )
        .route_layer(middleware::map_response(server_fn_bad_arguments))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            require_member,
        ))
        // Outside the guard: a retried render is guarded again.
        .route_layer(stalled::RetryStalledRenders);
    let public_page =
        leptos_axum::render_app_async_with_context(state.page_context(), shell(state));
    let sign_up = Router::new()
        .route(SIGN_UP, get(public_page.clone()).post(account::sign_up))
        .route_layer(middleware::from_fn_with_state(state.clone(), signup_gate));
    let public = Router::new()
        .route(SIGN_IN, get(public_page.clone()).post(sign_in::sign_in))
        .route("/logout", post(sign_in::sign_out))
        .merge(sign_up)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            away_if_signed_in,
        ))
        .route(
            "/verify-email",
            get(account::verify_email_page).post(account::verify_email),
        )
        .route(
            "/forgot-password",
            get(public_page.clone()).post(account::forgot_password),
        )
        .route(
            "/reset-password",
            get(account::reset_password_page).post(account::reset_password),
        )
        .route("/invitation", get(public_page).post(team::accept));
    members.merge(public)
}

/// A server function whose arguments do not parse is the caller's mistake:
/// 400 with a fixed message (in the server functions' error encoding), not
/// Leptos' 500 with the deserializer's words.
async fn server_fn_bad_arguments(res: Response) -> Response {
    const BAD_ARGUMENTS: [&[u8]; 3] = [b"Args|", b"MissingArg|", b"Deserialization|"];
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !res
            .headers()
            .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER)
    {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    // An error's text: small, and ours.
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if !BAD_ARGUMENTS.iter().any(|p| text.starts_with(p)) {
        return Response::from_parts(parts, axum::body::Body::from(text));
    }
    parts.status = StatusCode::BAD_REQUEST;
    let message = "Args|The request's arguments could not be read.";
    Response::from_parts(parts, axum::body::Body::from(message))
}

/// `SIGNUP=closed`: no sign-up page, no sign-up post.
async fn signup_gate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if state.signup_open {
        next.run(req).await
    } else {
        account::signup_closed().into_response()
    }
}

fn shell(
    state: &AppState,
) -> impl Fn() -> leptos::prelude::AnyView + Clone + Send + Sync + 'static {
    let assets = state.assets.clone();
    move || leptos::prelude::IntoAny::into_any(app::document(assets.clone()))
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

/// A member's page: the standing for its quota banner goes into the request
/// beside the member (see [`insert_standing`]).
async fn with_standing(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    insert_standing(&state, req.extensions_mut()).await;
    next.run(req).await
}

/// The standing of the tenant of the request's member (if any), for the
/// quota banner every member's page shows. Read before the render, so that
/// the banner is not a second async part of each page (a sixth of a page's
/// CPU). A page without its banner beats no page: a failed read is logged.
pub(crate) async fn insert_standing(state: &AppState, extensions: &mut Extensions) {
    let Some(member) = extensions.get::<CurrentMember>() else {
        return;
    };
    match limits::standing(&state.db, &member.tenant_id, member.tier, state.now()).await {
        Ok(standing) => {
            extensions.insert(standing);
        }
        Err(e) => tracing::warn!(error = %e, "page without its quota banner"),
    }
}

/// A signed-in member has no business on the sign-in or sign-up form: on
/// to `next`.
async fn away_if_signed_in(
    State(state): State<AppState>,
    session: Session,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::GET && [SIGN_IN, SIGN_UP].contains(&req.uri().path()) {
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
