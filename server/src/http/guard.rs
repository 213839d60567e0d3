//! The auth guard: every page and portal endpoint needs a session, except the
//! public ones listed in `is_public`.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tower_sessions::Session;

use app::domain::members;
use app::model::CurrentMember;
use app::session::safe_next;

use super::error::ApiError;
use crate::sessions::MEMBER_ID;
use crate::state::AppState;

fn is_public(path: &str) -> bool {
    path == "/login"
        || path == "/healthz"
        || path == "/favicon.svg"
        || path.starts_with("/pkg/")
        // Agents authenticate these themselves (client credentials or bearer token).
        || path.starts_with("/api/v1/")
        || path.starts_with("/.well-known/")
        // Stripe signs it; the handler checks the signature.
        || path == "/api/stripe/webhook"
}

/// The member a session points at, if any (a session whose member is gone is
/// emptied).
pub async fn member_of(
    state: &AppState,
    session: &Session,
) -> Result<Option<CurrentMember>, ApiError> {
    let id: Option<String> = session
        .get(MEMBER_ID)
        .await
        .map_err(|e| ApiError::from(app::domain::Error::Internal(e.to_string())))?;
    let Some(id) = id else { return Ok(None) };
    let member = members::current(&state.db, &id).await?;
    if member.is_none() {
        let _ = session.flush().await;
    }
    Ok(member)
}

pub async fn require_member(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    if is_public(&path) {
        // Public paths need no member, except the sign-in form: a signed-in
        // member has no business there.
        if path == "/login" && req.method() == Method::GET {
            if let Ok(Some(_)) = member_of(&state, &session).await {
                let next = req.uri().query().and_then(|q| url_query_value(q, "next"));
                return Redirect::to(&safe_next(next.as_deref())).into_response();
            }
        }
        return next.run(req).await;
    }
    let member = match member_of(&state, &session).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match member {
        Some(member) => {
            req.extensions_mut().insert(member);
            next.run(req).await
        }
        None if path.starts_with("/api/") => ApiError::unauthenticated().into_response(),
        None if req.method() == Method::GET || req.method() == Method::HEAD => {
            let wanted = req
                .uri()
                .path_and_query()
                .map(|pq| pq.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let to = format!(
                "/login?next={}",
                utf8_percent_encode(&wanted, NON_ALPHANUMERIC)
            );
            Redirect::to(&to).into_response()
        }
        None => (StatusCode::UNAUTHORIZED, "Sign in first.").into_response(),
    }
}

/// One value of an `application/x-www-form-urlencoded` query string.
pub fn url_query_value(query: &str, key: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}
