//! Every request gets an id (`X-Request-Id`: a trusted proxy's, or a new
//! one), every log line of the request carries it (a span), and one access
//! line per request says what happened: method, route, status, latency and
//! the tenant when known. Never a header value, a cookie or a body.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::state::AppState;

pub const REQUEST_ID: &str = "x-request-id";

/// The tenant a request acted for, left in the response by the guards.
#[derive(Debug, Clone)]
pub struct TenantOfRequest(pub String);

pub async fn log(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let from_trusted_proxy = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| {
            state
                .config
                .trusted_proxies
                .iter()
                .any(|net| net.contains(&peer.ip()))
        });
    let forwarded = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| from_trusted_proxy && !v.is_empty() && v.len() <= 128)
        .filter(|v| {
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned);
    // From the thread's CSPRNG, not `Uuid::new_v4` (a getrandom system
    // call per request).
    let id = forwarded.unwrap_or_else(|| {
        uuid::Builder::from_random_bytes(rand::random())
            .into_uuid()
            .simple()
            .to_string()
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, value);
    }
    let method = method_label(req.method());
    // A route template of the router (a closed set), never the path itself.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/*".into()
            } else {
                "(page or unmatched)".into()
            }
        });
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.run(req).instrument(span.clone()).await;
    let tenant = res
        .extensions()
        .get::<TenantOfRequest>()
        .map(|t| t.0.clone())
        .unwrap_or_default();
    let status = res.status().as_u16().to_string();
    let labels = [("route", route.clone()), ("method", method.to_owned())];
    metrics::counter!("portal_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("portal_http_request_duration_seconds", &labels[..])
        .record(started.elapsed().as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            method = method,
            route = %route,
            status = res.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            tenant = %tenant,
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    res
}

/// The request's method as a metrics label and log field: one of the
/// standard ones, else `other`. A client may send any token as a method, and
/// each label value is a series the process keeps.
fn method_label(method: &Method) -> &'static str {
    [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ]
    .into_iter()
    .find(|known| *known == method.as_str())
    .unwrap_or("other")
}
