//! The quota headers every authenticated API answer carries, and the 429.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use app::domain::metering::{Quota, UsageKind};

/// `X-RateLimit-Limit` / `-Remaining` ("unlimited" on tiers without a limit)
/// and `X-RateLimit-Reset` (unix time of the next 00:00 UTC).
pub fn set_headers(headers: &mut HeaderMap, quota: &Quota) {
    let number = |n: Option<u64>| match n {
        Some(n) => HeaderValue::from(n),
        None => HeaderValue::from_static("unlimited"),
    };
    headers.insert("x-ratelimit-limit", number(quota.limit));
    headers.insert("x-ratelimit-remaining", number(quota.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(quota.reset_at));
}

/// The 429 body: OAuth-shaped (`error`, `error_description`) on every
/// endpoint, so one client handler reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitExceeded {
    /// `rate_limit_exceeded`.
    error: &'static str,
    error_description: String,
    /// `token_issuances_per_day` or `api_calls_per_day`.
    limit: &'static str,
    limit_value: u64,
    /// Unix time of the next 00:00 UTC.
    reset_at: i64,
    /// Where an owner upgrades the plan.
    upgrade_url: String,
}

/// 429 with `Retry-After` = seconds until the next 00:00 UTC and a body that
/// names the limit, its value and where to upgrade. The token endpoint's body
/// is OAuth-shaped (`error`, `error_description`) like its other errors.
pub fn quota_exceeded(kind: UsageKind, quota: &Quota, now: i64, public_url: &str) -> Response {
    let limit = quota.limit.unwrap_or_default();
    let description = match kind {
        UsageKind::TokenIssued => {
            format!("Daily limit of {limit} token issuances reached; it resets at 00:00 UTC.")
        }
        UsageKind::ApiCall => {
            format!("Daily limit of {limit} API calls reached; it resets at 00:00 UTC.")
        }
    };
    let body = RateLimitExceeded {
        error: "rate_limit_exceeded",
        error_description: description,
        limit: kind.limit_name(),
        limit_value: limit,
        reset_at: quota.reset_at,
        upgrade_url: format!("{public_url}/settings/tier"),
    };
    let mut res = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    set_headers(res.headers_mut(), quota);
    res.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from((quota.reset_at - now).max(1)),
    );
    res
}
