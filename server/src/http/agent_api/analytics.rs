//! `/api/v1/analytics/*`: the Analytics page's numbers for agents (bearer
//! token; each call counts as an API call of the caller's tenant).

use axum::extract::{RawQuery, State};
use axum::Json;
use serde_json::{json, Value};

use app::domain::analytics::{self, parse_days};
use app::domain::tokens::Claims;
use app::model::analytics::{AgentTableView, WEEKDAY_NAMES};

use super::Agent;
use crate::http::error::ApiError;
use crate::http::portal::url_query_value;
use crate::state::AppState;

async fn overview(
    state: &AppState,
    claims: &Claims,
    query: Option<String>,
) -> Result<analytics::Overview, ApiError> {
    let days = parse_days(
        query
            .as_deref()
            .and_then(|q| url_query_value(q, "days"))
            .as_deref(),
    )?;
    Ok(analytics::overview(&state.db, &claims.tenant_id, days, state.now()).await?)
}

/// Tokens issued per local day, oldest first, zero days included.
pub async fn tokens(
    State(state): State<AppState>,
    Agent(claims): Agent,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let o = overview(&state, &claims, query).await?;
    Ok(Json(json!({
            "tenant_id": claims.tenant_id,
            "days": o.window.days,
            "time_zone": o.window.zone_name(),
            "data": o.current.iter().map(|d| json!({
                "date": d.date.to_string(),
                "count": d.counts.tokens_issued,
            })).collect::<Vec<_>>(),
    })))
}

/// Tokens issued + API calls by local weekday (0 = Sunday) and hour.
pub async fn activity(
    State(state): State<AppState>,
    Agent(claims): Agent,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let o = overview(&state, &claims, query).await?;
    let mut data = Vec::with_capacity(7 * 24);
    for (weekday, hours) in o.heatmap.iter().enumerate() {
        for (hour, count) in hours.iter().enumerate() {
            data.push(json!({ "weekday": weekday, "hour": hour, "count": count }));
        }
    }
    Ok(Json(json!({
        "tenant_id": claims.tenant_id,
        "days": o.window.days,
        "time_zone": o.window.zone_name(),
        "weekdays": WEEKDAY_NAMES,
        "data": data,
    })))
}

/// Per-agent usage for the current month in the tenant's zone.
pub async fn agents(
    State(state): State<AppState>,
    Agent(claims): Agent,
) -> Result<Json<Value>, ApiError> {
    let view = AgentTableView::from_params(None, None, None);
    let m = analytics::agents_this_month(&state.db, &claims.tenant_id, state.now(), &view, None)
        .await?;
    Ok(Json(json!({
            "tenant_id": claims.tenant_id,
            "month": m.month,
            "time_zone": m.zone,
            "data": m.agents.iter().map(|a| json!({
                "agent_id": a.id,
                "name": a.name,
                "agent_type": a.agent_type,
                "status": a.status.as_str(),
                "tokens_issued": a.tokens_issued,
                "api_calls": a.api_calls,
                "refused": a.refused,
                "last_activity_at": a.last_activity_at,
            })).collect::<Vec<_>>(),
    })))
}
