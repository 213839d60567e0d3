//! The Stripe TEST DOUBLE: a local stand-in for the part of Stripe's API the
//! portal uses, for machines that cannot reach Stripe (demo, tests, CI). It
//! answers async-stripe with complete enough objects, serves a hosted
//! "checkout" page whose Pay button sends a correctly signed
//! `checkout.session.completed` to the portal's webhook, and a "customer
//! portal" page that can cancel the subscription or fail a payment. Nothing
//! here ever talks to Stripe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};

use super::webhook::sign;
use crate::http::error::escape_html;

pub const SECRET_KEY: &str = "sk_test_portal_test_double";
pub const PRO_PRICE_ID: &str = "price_test_pro_monthly";

#[derive(Clone)]
struct Double {
    base: String,
    /// The portal's public URL: the only place browsers are sent back to.
    portal: String,
    webhook_url: String,
    webhook_secret: String,
    sessions: Arc<Mutex<HashMap<String, Value>>>,
    /// Customer id → (subscription id, tenant id) once paid.
    subscriptions: Arc<Mutex<HashMap<String, (String, String)>>>,
}

/// A running double: where it listens and the secret its webhooks carry.
#[derive(Debug, Clone)]
pub struct RunningDouble {
    pub base_url: String,
    pub webhook_secret: String,
}

/// Starts the double on `listener`; its webhooks go to `webhook_url`, and
/// it sends browsers back only to `portal` (the portal's public URL).
pub fn start(
    listener: tokio::net::TcpListener,
    portal: String,
    webhook_url: String,
) -> RunningDouble {
    let base_url = format!("http://{}", listener.local_addr().expect("bound"));
    let webhook_secret = format!("whsec_test_double_{}", uuid::Uuid::new_v4().simple());
    let double = Double {
        base: base_url.clone(),
        portal,
        webhook_url,
        webhook_secret: webhook_secret.clone(),
        sessions: Default::default(),
        subscriptions: Default::default(),
    };
    let router = Router::new()
        .route("/v1/customers", post(create_customer))
        .route("/v1/checkout/sessions", post(create_checkout_session))
        .route("/v1/billing_portal/sessions", post(create_portal_session))
        .route("/checkout/{id}", get(checkout_page))
        .route("/checkout/{id}/pay", post(pay))
        .route("/portal/{customer}", get(portal_page))
        .route("/portal/{customer}/{action}", post(portal_action))
        .with_state(double);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "Stripe test double stopped");
        }
    });
    RunningDouble {
        base_url,
        webhook_secret,
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn new_id(prefix: &str) -> String {
    format!(
        "{prefix}_test_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..20]
    )
}

/// Stripe's form encoding (`metadata[tenant_id]=...`) as a flat map.
fn form(body: &str) -> HashMap<String, String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(body)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn stripe_error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "error": { "type": "invalid_request_error", "message": message } });
    (status, Json(body)).into_response()
}

/// The form of an API call, if it carries the test double's secret key.
fn authorized_form(headers: &HeaderMap, body: &str) -> Option<HashMap<String, String>> {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
    authorized.then(|| form(body))
}

fn invalid_key() -> Response {
    stripe_error(StatusCode::UNAUTHORIZED, "Invalid API Key provided.")
}

async fn create_customer(headers: HeaderMap, body: String) -> Response {
    let Some(f) = authorized_form(&headers, &body) else {
        return invalid_key();
    };
    Json(json!({
        "id": new_id("cus"),
        "object": "customer",
        "created": now(),
        "email": f.get("email"),
        "name": f.get("name"),
        "livemode": false,
        "metadata": { "tenant_id": f.get("metadata[tenant_id]") },
    }))
    .into_response()
}

async fn create_checkout_session(
    State(d): State<Double>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(f) = authorized_form(&headers, &body) else {
        return invalid_key();
    };
    if f.get("line_items[0][price]").map(String::as_str) != Some(PRO_PRICE_ID) {
        return stripe_error(StatusCode::BAD_REQUEST, "No such price.");
    }
    let id = new_id("cs");
    let created = now();
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "automatic_tax": { "enabled": false, "liability": null, "status": null },
        "cancel_url": f.get("cancel_url"),
        "success_url": f.get("success_url"),
        "client_reference_id": f.get("client_reference_id"),
        "created": created,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": { "after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null },
        "customer": f.get("customer"),
        "expires_at": created + 86_400,
        "livemode": false,
        "metadata": { "tenant_id": f.get("metadata[tenant_id]") },
        "mode": "subscription",
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "subscription": null,
        "url": format!("{}/checkout/{id}", d.base),
    });
    d.sessions
        .lock()
        .expect("not poisoned")
        .insert(id, session.clone());
    Json(session).into_response()
}

async fn create_portal_session(
    State(d): State<Double>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(f) = authorized_form(&headers, &body) else {
        return invalid_key();
    };
    let Some(customer) = f.get("customer").cloned() else {
        return stripe_error(StatusCode::BAD_REQUEST, "Missing required param: customer.");
    };
    let return_url = f.get("return_url").cloned().unwrap_or_default();
    Json(json!({
        "id": new_id("bps"),
        "object": "billing_portal.session",
        "configuration": "bpc_test_double",
        "created": now(),
        "customer": customer,
        "livemode": false,
        "return_url": return_url,
        "url": format!("{}/portal/{customer}?return_url={}", d.base, utf8_percent_encode(&return_url, NON_ALPHANUMERIC)),
    }))
    .into_response()
}

fn page(title: &str, body: String) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         .test{{background:#fff4e0;border:1px solid #b35c00;padding:.5rem .75rem;border-radius:8px}}\
         button{{font:inherit;padding:.6rem 1.2rem;margin:.25rem 0}}</style></head><body>\
         <p class=\"test\"><strong>Stripe test double</strong>: no real payment happens here.</p>{body}</body></html>"
    ))
}

async fn checkout_page(State(d): State<Double>, Path(id): Path<String>) -> Response {
    let Some(session) = d.sessions.lock().expect("not poisoned").get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such checkout session").into_response();
    };
    let cancel = escape_html(&d.back_to_portal(session["cancel_url"].as_str()));
    let id = escape_html(&id);
    page(
        "Checkout — Pro",
        format!(
            "<h1>Subscribe to Pro</h1><p>Agent ID Portal Pro, billed monthly.</p>\
             <form method=\"post\" action=\"/checkout/{id}/pay\"><button type=\"submit\">Pay</button></form>\
             <p><a href=\"{cancel}\">Cancel and go back</a></p>"
        ),
    )
    .into_response()
}

/// Marks the session paid, sends the signed webhook, then returns the
/// browser to the portal (as Stripe does, the webhook may land before or
/// after the browser is back).
async fn pay(State(d): State<Double>, Path(id): Path<String>) -> Response {
    let Some(mut session) = d.sessions.lock().expect("not poisoned").get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such checkout session").into_response();
    };
    let subscription = new_id("sub");
    session["status"] = json!("complete");
    session["payment_status"] = json!("paid");
    session["subscription"] = json!(subscription);
    let customer = session["customer"].as_str().unwrap_or_default().to_owned();
    let tenant = session["client_reference_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    d.sessions
        .lock()
        .expect("not poisoned")
        .insert(id, session.clone());
    d.subscriptions
        .lock()
        .expect("not poisoned")
        .insert(customer, (subscription, tenant));
    send_event(&d, "checkout.session.completed", session.clone()).await;
    Redirect::to(&d.back_to_portal(session["success_url"].as_str())).into_response()
}

async fn portal_page(
    State(d): State<Double>,
    Path(customer): Path<String>,
    axum::extract::RawQuery(q): axum::extract::RawQuery,
) -> Response {
    let back = escape_html(
        &d.back_to_portal(
            q.as_deref()
                .and_then(|q| form(q).get("return_url").cloned())
                .as_deref(),
        ),
    );
    let subscribed = d
        .subscriptions
        .lock()
        .expect("not poisoned")
        .contains_key(&customer);
    let customer = escape_html(&customer);
    let actions = if subscribed {
        format!(
            "<form method=\"post\" action=\"/portal/{customer}/cancel\"><input type=\"hidden\" name=\"return_url\" value=\"{back}\">\
             <button type=\"submit\">Cancel subscription</button></form>\
             <form method=\"post\" action=\"/portal/{customer}/fail-payment\"><input type=\"hidden\" name=\"return_url\" value=\"{back}\">\
             <button type=\"submit\">Simulate a failed payment</button></form>"
        )
    } else {
        "<p>No active subscription.</p>".to_owned()
    };
    page(
        "Billing — customer portal",
        format!(
            "<h1>Your subscription</h1>{actions}<p><a href=\"{back}\">Return to the portal</a></p>"
        ),
    )
    .into_response()
}

async fn portal_action(
    State(d): State<Double>,
    Path((customer, action)): Path<(String, String)>,
    body: String,
) -> Response {
    let back = d.back_to_portal(form(&body).get("return_url").map(String::as_str));
    let Some((subscription, tenant)) = d
        .subscriptions
        .lock()
        .expect("not poisoned")
        .get(&customer)
        .cloned()
    else {
        return (StatusCode::NOT_FOUND, "no subscription").into_response();
    };
    match action.as_str() {
        "cancel" => {
            d.subscriptions
                .lock()
                .expect("not poisoned")
                .remove(&customer);
            let object = json!({
                "id": subscription, "object": "subscription", "customer": customer,
                "status": "canceled", "metadata": { "tenant_id": tenant },
            });
            send_event(&d, "customer.subscription.deleted", object).await;
        }
        "fail-payment" => {
            let object = json!({
                "id": new_id("in"), "object": "invoice", "customer": customer, "subscription": subscription,
                "status": "open", "subscription_details": { "metadata": { "tenant_id": tenant } },
            });
            send_event(&d, "invoice.payment_failed", object).await;
        }
        _ => return (StatusCode::NOT_FOUND, "unknown action").into_response(),
    }
    Redirect::to(&back).into_response()
}

impl Double {
    /// `url` when it is a page of the portal, else the portal's Tier page:
    /// the double is no open redirect.
    fn back_to_portal(&self, url: Option<&str>) -> String {
        match url {
            Some(url) if url.starts_with(&format!("{}/", self.portal)) => url.to_owned(),
            _ => format!("{}/settings/tier", self.portal),
        }
    }
}

async fn send_event(d: &Double, kind: &str, object: Value) {
    let event = json!({
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2024-04-10",
        "created": now(),
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
        "data": { "object": object },
    });
    let body = event.to_string();
    let signature = sign(body.as_bytes(), &d.webhook_secret, now());
    let sent = reqwest::Client::new()
        .post(&d.webhook_url)
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(res) if res.status().is_success() => {}
        Ok(res) => {
            tracing::error!(status = %res.status(), kind, "the portal refused the test double's webhook")
        }
        Err(e) => {
            tracing::error!(error = %e, kind, "the test double could not deliver its webhook")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_go_back_only_to_the_portal_and_echoes_are_escaped() {
        let d = Double {
            base: "http://127.0.0.1:9".into(),
            portal: "http://127.0.0.1:3000".into(),
            webhook_url: String::new(),
            webhook_secret: String::new(),
            sessions: Default::default(),
            subscriptions: Default::default(),
        };
        let tier = "http://127.0.0.1:3000/settings/tier";
        assert_eq!(
            d.back_to_portal(Some("http://127.0.0.1:3000/settings/tier?checkout=success")),
            "http://127.0.0.1:3000/settings/tier?checkout=success"
        );
        for foreign in [
            Some("https://evil.example/"),
            Some("http://127.0.0.1:3000.evil.example/"),
            Some("javascript:alert(1)"),
            Some("//evil.example"),
            None,
        ] {
            assert_eq!(d.back_to_portal(foreign), tier, "{foreign:?}");
        }
        assert_eq!(
            escape_html("<script>\"'&"),
            "&lt;script&gt;&quot;&#39;&amp;"
        );
    }
}
