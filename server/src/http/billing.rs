//! Billing endpoints: the upgrade to Pro (Stripe Checkout), "Manage billing"
//! (Stripe Customer Portal) and Stripe's webhook.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use leptos::prelude::provide_context;
use serde_json::{json, Value};

use app::domain::billing::{self, Applied, BillingAccount};
use app::model::{CurrentMember, Tier};
use app::pages::tier::BillingProblem;

use super::error::ApiError;
use super::render;
use super::security::refuse_unless_manager;
use crate::billing::stripe_api::{self, StripeUnavailable};
use crate::billing::webhook;
use crate::state::AppState;

/// A script's `fetch` asks for JSON; a plain form post gets a redirect.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The tenant's billing account, if this member may change billing.
async fn manageable_account(
    state: &AppState,
    member: &CurrentMember,
    headers: &HeaderMap,
) -> Result<BillingAccount, Response> {
    if let Some(refused) = refuse_unless_manager(member, headers, "change billing") {
        return Err(refused);
    }
    billing::account(&state.db, &member.tenant_id)
        .await
        .map_err(|e| ApiError::from(e).into_response())
}

/// Sends the browser (or tells the script) where to go next.
fn go_to(headers: &HeaderMap, url: String) -> Response {
    if wants_json(headers) {
        Json(json!({ "url": url })).into_response()
    } else {
        Redirect::to(&url).into_response()
    }
}

async fn stripe_failed(
    state: &AppState,
    member: CurrentMember,
    headers: &HeaderMap,
    e: StripeUnavailable,
) -> Response {
    if wants_json(headers) {
        return ApiError::new(StatusCode::BAD_GATEWAY, "stripe_unavailable", e.to_string())
            .into_response();
    }
    let problem = BillingProblem(e.to_string());
    render::page(
        state,
        Some(member),
        "/settings/tier",
        move || provide_context(problem.clone()),
        StatusCode::BAD_GATEWAY,
    )
    .await
}

/// `POST /api/tiers/upgrade`: a Checkout Session for Pro; `{"url"}` or 303.
pub async fn upgrade(
    State(state): State<AppState>,
    Extension(member): Extension<CurrentMember>,
    headers: HeaderMap,
) -> Response {
    let account = match manageable_account(&state, &member, &headers).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    if account.tier != Tier::Free {
        let message = format!(
            "This tenant is already on {}: there is nothing to upgrade to here.",
            account.tier.display_name()
        );
        return ApiError::new(StatusCode::CONFLICT, "already_upgraded", message).into_response();
    }
    let stripe = &state.stripe;
    let customer = match stripe_api::customer_of(stripe, &account, &member.email).await {
        Ok((customer, created)) => {
            if created {
                if let Err(e) =
                    billing::set_customer(&state.db, &account.tenant_id, customer.as_str()).await
                {
                    return ApiError::from(e).into_response();
                }
            }
            customer
        }
        Err(e) => return stripe_failed(&state, member, &headers, e).await,
    };
    let return_to = format!("{}/settings/tier", state.issuer());
    match stripe_api::checkout_url(stripe, customer, &account.tenant_id, &return_to).await {
        Ok(url) => go_to(&headers, url),
        Err(e) => stripe_failed(&state, member, &headers, e).await,
    }
}

/// `POST /api/tiers/portal`: "Manage billing" in Stripe's Customer Portal.
pub async fn manage(
    State(state): State<AppState>,
    Extension(member): Extension<CurrentMember>,
    headers: HeaderMap,
) -> Response {
    let account = match manageable_account(&state, &member, &headers).await {
        Ok(a) => a,
        Err(refused) => return refused,
    };
    let Some(customer) = account
        .stripe_customer_id
        .as_deref()
        .and_then(|c| c.parse().ok())
    else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "no_billing_account",
            "This tenant has no Stripe billing account yet.",
        )
        .into_response();
    };
    let return_to = format!("{}/settings/tier", state.issuer());
    match stripe_api::portal_url(&state.stripe, customer, &return_to).await {
        Ok(url) => go_to(&headers, url),
        Err(e) => stripe_failed(&state, member, &headers, e).await,
    }
}

/// `POST /api/stripe/webhook`: verified against the raw body, applied once.
pub async fn stripe_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(e) = webhook::verify(&body, signature, &state.stripe.webhook_secret, state.now()) {
        tracing::warn!(error = %e, "Stripe webhook refused");
        return ApiError::new(StatusCode::BAD_REQUEST, "invalid_signature", e.to_string())
            .into_response();
    }
    let Some(event) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| webhook::read_event(&v))
    else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            "The body is not a Stripe event.",
        )
        .into_response();
    };
    match billing::apply_event(&state.db, &event, state.now()).await {
        Ok(applied) => {
            let outcome = match applied {
                Applied::Changed => "applied",
                Applied::Duplicate => "duplicate",
                Applied::Ignored => "ignored",
            };
            tracing::info!(event = %event.id, kind = %event.kind, outcome, "Stripe webhook");
            Json(json!({ "received": true, "outcome": outcome })).into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
