//! Who is asking: extractors that check it before a handler runs, so that
//! handlers name what they need (`Member`, `Manager`) instead of checking.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use tower_sessions::Session;

use app::domain::members;
use app::model::CurrentMember;

use super::error::ApiError;
use super::security::is_same_origin;
use crate::sessions::MEMBER_ID;
use crate::state::AppState;

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

/// A state-changing request from our own pages (see `is_same_origin`).
pub struct SameOrigin;

impl<S: Send + Sync> FromRequestParts<S> for SameOrigin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if is_same_origin(&parts.headers) {
            Ok(SameOrigin)
        } else {
            Err(ApiError::cross_site())
        }
    }
}

/// The member a session points at, if any (a session whose member is gone is
/// emptied).
pub async fn member_of(
    state: &AppState,
    session: &Session,
) -> Result<Option<CurrentMember>, ApiError> {
    let id: Option<String> = session.get(MEMBER_ID).await.map_err(ApiError::internal)?;
    let Some(id) = id else { return Ok(None) };
    let member = members::current(&state.db, &id).await?;
    if member.is_none() {
        let _ = session.flush().await;
    }
    Ok(member)
}

/// A signed-in member. Member routes carry the `portal::require_member`
/// layer, which has already looked the member up; elsewhere the session is
/// read here.
pub struct Member(pub CurrentMember);

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(member) = parts.extensions.get::<CurrentMember>() {
            return Ok(Member(member.clone()));
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| ApiError::internal(e))?;
        let member = member_of(state, &session)
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        parts.extensions.insert(member.clone());
        Ok(Member(member))
    }
}

/// A signed-in owner or admin, posting from our own pages: who may change
/// the tenant's agents, settings and billing.
pub struct Manager(pub CurrentMember);

impl FromRequestParts<AppState> for Manager {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        SameOrigin::from_request_parts(parts, state).await?;
        let Member(member) = Member::from_request_parts(parts, state).await?;
        if !member.role.can_manage() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Viewers can look but not change anything: ask an owner or admin.",
            ));
        }
        Ok(Manager(member))
    }
}
