//! The upgrade to Pro (Stripe Checkout) and "Manage billing" (Stripe
//! Customer Portal). The page's buttons are plain form posts answered with a
//! redirect; a script asking for JSON gets `{"url"}`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use leptos::prelude::provide_context;
use serde_json::json;

use app::domain::audit::By;
use app::domain::billing;
use app::domain::Problem;
use app::model::forms::BillingProblem;
use app::model::{CurrentMember, Tier};

use super::form::page;
use crate::billing::stripe_api;
use crate::http::error::ApiError;
use crate::http::extract::{ClientIp, Manager};
use crate::state::AppState;

/// A script's `fetch` asks for JSON; a plain form post gets a redirect.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// Sends the browser (or tells the script) where Stripe wants it next; when
/// Stripe failed, a browser sees the Tier page again with the message.
async fn go_to(
    state: &AppState,
    member: CurrentMember,
    headers: &HeaderMap,
    url: Result<String, Problem>,
) -> Result<Response, ApiError> {
    match url {
        Ok(url) if wants_json(headers) => Ok(Json(json!({ "url": url })).into_response()),
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(p) if p.status == StatusCode::BAD_GATEWAY && !wants_json(headers) => {
            let problem = BillingProblem(p.message);
            let context = move || provide_context(problem.clone());
            page(
                state,
                Some(member),
                "/settings/tier",
                context,
                StatusCode::BAD_GATEWAY,
            )
            .await
            .map_err(|_| ApiError::internal("rendering the Tier page failed"))
        }
        Err(p) => Err(ApiError(p)),
    }
}

/// `POST /api/tiers/upgrade`: a Checkout Session for Pro; `{"url"}` or 303.
pub async fn upgrade(
    State(state): State<AppState>,
    Manager(member): Manager,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = billing::account(&state.db, &member.tenant_id).await?;
    if account.tier != Tier::Free {
        let message = format!(
            "This tenant is already on {}: there is nothing to upgrade to here.",
            account.tier.display_name()
        );
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_upgraded",
            message,
        ));
    }
    let return_to = format!("{}/settings/tier", state.issuer());
    let url = async {
        let (customer, created) =
            stripe_api::customer_of(&state.stripe, &account, &member.email).await?;
        if created {
            billing::set_customer(&state.db, &account.tenant_id, customer.as_str()).await?;
        }
        let url = stripe_api::checkout_url(&state.stripe, customer, &account.tenant_id, &return_to)
            .await?;
        let by = By::member(&member.email, &ip);
        billing::record_checkout_started(&state.db, &account.tenant_id, &by, state.now()).await?;
        Ok::<_, Problem>(url)
    }
    .await;
    go_to(&state, member, &headers, url).await
}

/// `POST /api/tiers/portal`: "Manage billing" in Stripe's Customer Portal.
pub async fn manage(
    State(state): State<AppState>,
    Manager(member): Manager,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let account = billing::account(&state.db, &member.tenant_id).await?;
    let Some(customer) = account
        .stripe_customer_id
        .as_deref()
        .and_then(|c| c.parse().ok())
    else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_billing_account",
            "This tenant has no Stripe billing account yet.",
        ));
    };
    let return_to = format!("{}/settings/tier", state.issuer());
    let url = stripe_api::portal_url(&state.stripe, customer, &return_to)
        .await
        .map_err(Problem::from);
    go_to(&state, member, &headers, url).await
}
