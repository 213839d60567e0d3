//! The Analytics page's downloads and its time-zone form. The page itself is
//! the Leptos route; these are plain HTTP so they work without JavaScript.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use app::domain::analytics::{self, parse_days};
use app::domain::tenants;
use app::model::analytics::AgentTableView;
use app::model::forms::TimeZoneFormState;

use super::form::FormPage;
use super::url_query_value;
use crate::http::csv::{csv_field, csv_response};
use crate::http::error::{ApiError, PageError};
use crate::http::extract::{ClientIp, Manager, Member};
use crate::state::AppState;

fn param(query: &Option<String>, key: &str) -> Option<String> {
    query.as_deref().and_then(|q| url_query_value(q, key))
}

/// The trend's days as on screen: tokens per local day, with the other
/// counts of the day and, when comparing, the previous period's day.
pub async fn daily_csv(
    State(state): State<AppState>,
    Member(member): Member,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let days = parse_days(param(&query, "days").as_deref())?;
    let compare = param(&query, "compare").is_some_and(|v| v == "1" || v == "true");
    let o = analytics::overview(&state.db, &member.tenant_id, days, state.now()).await?;
    let mut body = String::from("date,tokens_issued,api_calls,refused");
    if compare {
        body.push_str(",previous_date,previous_tokens_issued");
    }
    body.push_str("\r\n");
    for (i, d) in o.current.iter().enumerate() {
        body.push_str(&format!(
            "{},{},{},{}",
            d.date, d.counts.tokens_issued, d.counts.api_calls, d.counts.refused
        ));
        if let (true, Some(p)) = (compare, o.previous.get(i)) {
            body.push_str(&format!(",{},{}", p.date, p.counts.tokens_issued));
        }
        body.push_str("\r\n");
    }
    let name = format!(
        "token-trend-{days}d-{}-to-{}.csv",
        o.window.first, o.window.today
    );
    Ok(csv_response(&name, body))
}

/// Every agent row of the month matching the page's filter, in its order.
pub async fn agents_csv(
    State(state): State<AppState>,
    Member(member): Member,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let view = AgentTableView::from_params(
        param(&query, "sort").as_deref(),
        param(&query, "dir").as_deref(),
        param(&query, "q").as_deref(),
    );
    let month =
        analytics::agents_this_month(&state.db, &member.tenant_id, state.now(), &view, None)
            .await?;
    let mut body = String::from(
        "agent_id,name,type,status,tokens_issued,api_calls,refused,last_activity_utc\r\n",
    );
    for a in month.agents {
        let last = a
            .last_activity_at
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        body.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            a.id,
            csv_field(&a.name),
            csv_field(&a.agent_type),
            a.status.as_str(),
            a.tokens_issued,
            a.api_calls,
            a.refused,
            last
        ));
    }
    Ok(csv_response(
        &format!("agent-usage-{}.csv", month.month),
        body,
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TimeZoneForm {
    time_zone: String,
}

pub async fn set_time_zone(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    Form(form): Form<TimeZoneForm>,
) -> Result<Response, PageError> {
    let by = app::domain::audit::By::member(&member.email, &ip);
    let saved = tenants::set_time_zone(
        &state.db,
        &member.tenant_id,
        &form.time_zone,
        state.now(),
        &by,
    )
    .await;
    let form_page = FormPage {
        state: &state,
        member: Some(&member),
        path: "/analytics".into(),
    };
    form_page
        .or_show(saved, |problem| TimeZoneFormState {
            value: form.time_zone,
            errors: problem.field_errors(),
        })
        .await?;
    Ok(Redirect::to("/analytics").into_response())
}
