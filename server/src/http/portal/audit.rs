//! The audit trail's CSV export (the page is the Leptos route).

use axum::extract::{Query, State};
use axum::response::Response;

use app::domain::{audit, Error};
use app::model::audit::AuditQuery;

use crate::http::csv::{csv_field, csv_response};
use crate::http::error::ApiError;
use crate::http::extract::Member;
use crate::state::AppState;

/// Every entry that matches the page's filter, newest first (up to
/// `audit::EXPORT_LIMIT`), times in UTC (RFC 3339).
pub async fn csv(
    State(state): State<AppState>,
    Member(member): Member,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    if !member.role.can_manage() {
        return Err(
            Error::Forbidden("Only owners and admins can read the audit trail.".into()).into(),
        );
    }
    let (filter, before) = audit::parse_query(&query)?;
    let page = audit::list(
        &state.db,
        &member.tenant_id,
        &filter,
        before,
        audit::EXPORT_LIMIT,
    )
    .await?;
    let mut body = String::from("time,actor_kind,actor,action,object,detail,client_ip\n");
    for e in &page.entries {
        let at = jiff::Timestamp::from_second(e.at)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let cells = [
            &at,
            &e.actor_kind,
            &e.actor,
            &e.action,
            &e.object,
            &e.detail,
            &e.client_ip,
        ];
        body.push_str(&cells.map(|c| csv_field(c)).join(","));
        body.push('\n');
    }
    let today = jiff::Timestamp::from_second(state.now())
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Ok(csv_response(&format!("audit-{today}.csv"), body))
}
