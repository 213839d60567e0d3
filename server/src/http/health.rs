//! `/healthz` (the process answers) and `/readyz` (it can serve: the
//! database answers with every migration applied, the metering writer
//! runs). Both cheap and unauthenticated, for load balancers and probes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::state::AppState;

pub async fn live() -> &'static str {
    "ok"
}

pub async fn ready(State(state): State<AppState>) -> Response {
    let database = match state.db.migrations_applied().await {
        Ok(true) => "ok",
        Ok(false) => "migrations missing",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database check failed");
            "unreachable"
        }
    };
    let metering = if state.meter.is_alive() {
        "ok"
    } else {
        "stopped"
    };
    let ready = database == "ok" && metering == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": { "database": database, "metering": metering },
    });
    (status, Json(body)).into_response()
}
