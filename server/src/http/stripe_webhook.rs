//! `POST /api/stripe/webhook`: Stripe's events, verified against the raw
//! body and applied once (see `billing::webhook` and `domain::billing`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use app::domain::billing::{self, Applied};

use super::error::ApiError;
use crate::billing::webhook;
use crate::state::AppState;

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    webhook::verify(&body, signature, &state.stripe.webhook_secret, state.now()).map_err(|e| {
        tracing::warn!(error = %e, "Stripe webhook refused");
        metrics::counter!("portal_stripe_webhooks_total", "type" => "unverified", "outcome" => "refused")
            .increment(1);
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_signature", e.to_string())
    })?;
    let event = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| webhook::read_event(&v, &state.stripe.pro_price_id))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_event",
                "The body is not a Stripe event.",
            )
        })?;
    let outcome = match billing::apply_event(&state.db, &event, state.now()).await? {
        Applied::Changed => "applied",
        Applied::Duplicate => "duplicate",
        Applied::Ignored => "ignored",
    };
    tracing::info!(event = %event.id, kind = %event.kind, outcome, "Stripe webhook");
    metrics::counter!("portal_stripe_webhooks_total", "type" => event_type(&event.kind), "outcome" => outcome)
        .increment(1);
    Ok(Json(json!({ "received": true, "outcome": outcome })))
}

/// The event types billing knows, as a bounded label; the rest are "other".
fn event_type(kind: &str) -> &'static str {
    const KNOWN: [&str; 8] = [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.payment_failed",
        "invoice.paid",
        "invoice.payment_succeeded",
    ];
    KNOWN.into_iter().find(|k| *k == kind).unwrap_or("other")
}
