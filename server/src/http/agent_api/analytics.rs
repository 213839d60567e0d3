//! `/api/v1/analytics/*`: the Analytics page's numbers for agents (bearer
//! token with `analytics:read`; each call counts as an API call of the
//! caller's tenant).

use axum::extract::{RawQuery, State};
use axum::Json;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use app::domain::analytics::{self, parse_days};
use app::domain::tokens::Claims;
use app::model::analytics::{AgentTableView, WEEKDAY_NAMES};
use app::model::AgentStatus;

use super::Agent;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::portal::url_query_value;
use crate::state::AppState;

/// The window of the tokens and activity endpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // Read from the raw query; here for the description.
pub struct DaysQuery {
    /// 7, 30 or 90 local days ending today (default 30).
    days: Option<u32>,
}

/// Tokens issued per local day of the tenant's time zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensPerDay {
    tenant_id: String,
    days: u32,
    /// IANA name, e.g. `Europe/Berlin`.
    time_zone: String,
    /// Oldest first, one entry per day, zero days included.
    data: Vec<DayCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCount {
    /// `YYYY-MM-DD`, local.
    date: String,
    count: i64,
}

/// Tokens issued + API calls by local weekday and hour.
#[derive(Debug, Serialize, ToSchema)]
pub struct Activity {
    tenant_id: String,
    days: u32,
    time_zone: String,
    /// Names of the weekdays by number, Sunday first.
    weekdays: [&'static str; 7],
    /// 7 × 24 entries.
    data: Vec<HourCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HourCount {
    /// 0 = Sunday.
    weekday: usize,
    /// 0-23, local.
    hour: usize,
    count: u64,
}

/// Per-agent usage in the current month of the tenant's time zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentsThisMonth {
    tenant_id: String,
    /// `YYYY-MM`.
    month: String,
    time_zone: String,
    data: Vec<AgentUsage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentUsage {
    agent_id: String,
    name: String,
    agent_type: String,
    status: AgentStatus,
    tokens_issued: u64,
    api_calls: u64,
    /// Requests refused by the tier's limits.
    refused: u64,
    /// Unix seconds of the latest counted request this month, else of the
    /// latest token ever.
    last_activity_at: Option<i64>,
}

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

/// Tokens issued per local day.
#[utoipa::path(
    get, path = "/api/v1/analytics/tokens", tag = "analytics",
    params(DaysQuery), security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, description = "Counts per day", body = TokensPerDay),
        (status = 400, description = "`days` is not 7, 30 or 90", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks `analytics:read`", body = ErrorBody),
        (status = 429, description = "Daily API-call limit reached", body = super::rate_limit::RateLimitExceeded),
    )
)]
pub async fn tokens(
    State(state): State<AppState>,
    Agent(claims): Agent,
    RawQuery(query): RawQuery,
) -> Result<Json<TokensPerDay>, ApiError> {
    let o = overview(&state, &claims, query).await?;
    Ok(Json(TokensPerDay {
        days: o.window.days,
        time_zone: o.window.zone_name(),
        data: o
            .current
            .iter()
            .map(|d| DayCount {
                date: d.date.to_string(),
                count: d.counts.tokens_issued,
            })
            .collect(),
        tenant_id: claims.tenant_id,
    }))
}

/// Tokens issued + API calls by local weekday (0 = Sunday) and hour.
#[utoipa::path(
    get, path = "/api/v1/analytics/activity", tag = "analytics",
    params(DaysQuery), security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, description = "Counts per weekday and hour", body = Activity),
        (status = 400, description = "`days` is not 7, 30 or 90", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks `analytics:read`", body = ErrorBody),
        (status = 429, description = "Daily API-call limit reached", body = super::rate_limit::RateLimitExceeded),
    )
)]
pub async fn activity(
    State(state): State<AppState>,
    Agent(claims): Agent,
    RawQuery(query): RawQuery,
) -> Result<Json<Activity>, ApiError> {
    let o = overview(&state, &claims, query).await?;
    let mut data = Vec::with_capacity(7 * 24);
    for (weekday, hours) in o.heatmap.iter().enumerate() {
        for (hour, &count) in hours.iter().enumerate() {
            data.push(HourCount {
                weekday,
                hour,
                count,
            });
        }
    }
    Ok(Json(Activity {
        days: o.window.days,
        time_zone: o.window.zone_name(),
        weekdays: WEEKDAY_NAMES,
        data,
        tenant_id: claims.tenant_id,
    }))
}

/// Per-agent usage for the current month in the tenant's zone.
#[utoipa::path(
    get, path = "/api/v1/analytics/agents", tag = "analytics",
    security(("bearer" = ["analytics:read"])),
    responses(
        (status = 200, description = "One row per agent", body = AgentsThisMonth),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks `analytics:read`", body = ErrorBody),
        (status = 429, description = "Daily API-call limit reached", body = super::rate_limit::RateLimitExceeded),
    )
)]
pub async fn agents(
    State(state): State<AppState>,
    Agent(claims): Agent,
) -> Result<Json<AgentsThisMonth>, ApiError> {
    let view = AgentTableView::from_params(None, None, None);
    let m = analytics::agents_this_month(&state.db, &claims.tenant_id, state.now(), &view, None)
        .await?;
    Ok(Json(AgentsThisMonth {
        tenant_id: claims.tenant_id,
        month: m.month,
        time_zone: m.zone,
        data: m
            .agents
            .into_iter()
            .map(|a| AgentUsage {
                agent_id: a.id,
                name: a.name,
                agent_type: a.agent_type,
                status: a.status,
                tokens_issued: a.tokens_issued,
                api_calls: a.api_calls,
                refused: a.refused,
                last_activity_at: a.last_activity_at,
            })
            .collect(),
    }))
}
