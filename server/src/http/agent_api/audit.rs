//! `GET /api/v1/audit`: the tenant's audit trail for agents with the
//! `audit:read` scope (e.g. a SIEM shipper), newest first, paged by `before`.

use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use app::domain::{audit, Error};
use app::model::audit::{AuditPage, AuditQuery};

use super::Agent;
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AuditParams {
    /// Only this actor (an e-mail, a client id, `Stripe`, `operator`).
    actor: Option<String>,
    /// Only this action, e.g. `agent.registered`.
    action: Option<String>,
    /// From this UTC date (`YYYY-MM-DD`), included.
    from: Option<String>,
    /// Up to this UTC date, included.
    to: Option<String>,
    /// Entries older than this position: the previous answer's `next_before`.
    before: Option<String>,
    /// Entries per answer, 1 to 500 (default 100).
    limit: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/audit", tag = "audit",
    params(AuditParams), security(("bearer" = ["audit:read"])),
    responses(
        (status = 200, description = "Entries, newest first", body = AuditPage),
        (status = 400, description = "A malformed filter", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks `audit:read`", body = ErrorBody),
        (status = 429, description = "Daily API-call limit reached", body = super::rate_limit::RateLimitExceeded),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Agent(claims): Agent,
    Query(p): Query<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = match p.limit.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        None => 100,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=500).contains(l))
            .ok_or_else(|| Error::invalid_field("limit", "limit must be a number from 1 to 500"))?,
    };
    let query = AuditQuery {
        actor: p.actor,
        action: p.action,
        from: p.from,
        to: p.to,
        before: p.before,
    };
    let (filter, before) = audit::parse_query(&query)?;
    Ok(Json(
        audit::list(&state.db, &claims.tenant_id, &filter, before, limit).await?,
    ))
}
