//! Billing: the upgrade endpoint, Stripe's webhook (signature, replay, order,
//! downgrade, isolation) and the whole flow through the Stripe test double.

use app::domain::billing;
use app::domain::{tenants, Clock};
use app::model::{Role, Tier};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::billing::test_double::PRO_PRICE_ID;
use server::billing::webhook::sign;

use crate::common::{location, TestApp, TestDb};
use crate::on_both_backends;
use crate::signup::get;

on_both_backends!(
    TestApp =>
    webhook_signatures_are_checked_against_the_raw_body,
    a_replayed_event_changes_nothing_twice,
    an_older_event_never_undoes_a_newer_one,
    cancellation_downgrades_when_the_subscription_ends,
    a_webhook_for_one_tenant_never_touches_another,
    a_failed_payment_warns_until_a_payment_succeeds,
    the_upgrade_endpoint_refuses_what_it_must,
    upgrading_through_checkout_makes_the_tenant_pro,
    a_checkout_for_another_customer_changes_nothing,
    an_unpaid_checkout_waits_for_its_payment,
    a_subscription_to_another_price_is_not_pro,
    a_newer_invoice_does_not_make_an_older_plan_event_stale,
    past_due_warns_and_unpaid_ends_pro,
);

on_both_backends!(
    TestDb =>
    stripe_down_means_a_clear_error_and_no_change,
);

fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({ "id": id, "object": "event", "type": kind, "created": created, "data": { "object": object } })
        .to_string()
}

fn completed(tenant: &str) -> Value {
    json!({ "id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
            "payment_status": "paid",
            "client_reference_id": tenant, "customer": customer_of(tenant),
            "metadata": { "tenant_id": tenant } })
}

fn subscription(tenant: &str, status: &str) -> Value {
    json!({ "id": "sub_test_1", "object": "subscription", "status": status,
            "customer": customer_of(tenant),
            "items": { "data": [{ "price": { "id": PRO_PRICE_ID } }] },
            "cancel_at_period_end": status == "active", "metadata": { "tenant_id": tenant } })
}

fn customer_of(tenant: &str) -> String {
    format!("cus_{}", &tenant[..8])
}

/// A tenant whose Stripe customer the portal has created, as upgrading does.
async fn billed_tenant(app: &TestApp, name: &str, tier: Tier) -> String {
    let tenant = app.tenant(name, tier).await;
    billing::set_customer(&app.db, &tenant, &customer_of(&tenant))
        .await
        .unwrap();
    tenant
}

async fn deliver(app: &TestApp, body: &str, signature: Option<String>) -> reqwest::Response {
    let mut req = app
        .client()
        .post(app.url("/api/stripe/webhook"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(signature) = signature {
        req = req.header("stripe-signature", signature);
    }
    req.send().await.unwrap()
}

async fn send(app: &TestApp, body: &str) -> Value {
    let signature = sign(body.as_bytes(), &app.stripe_webhook_secret, app.clock.now());
    let res = deliver(app, body, Some(signature)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn tier(app: &TestApp, tenant: &str) -> Tier {
    tenants::get(&app.db, tenant).await.unwrap().tier
}

async fn webhook_signatures_are_checked_against_the_raw_body(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let body = event(
        "evt_sig",
        "checkout.session.completed",
        app.clock.now(),
        completed(&tenant),
    );
    let now = app.clock.now();
    let secret = app.stripe_webhook_secret.clone();

    let wrong_secret = sign(body.as_bytes(), "whsec_not_ours", now);
    let stale = sign(body.as_bytes(), &secret, now - 301);
    let other_body = sign(b"{}", &secret, now);
    for (what, signature) in [
        ("wrong secret", Some(wrong_secret)),
        ("stale", Some(stale)),
        ("another body", Some(other_body)),
        ("missing", None),
        ("garbage", Some("t=abc".to_owned())),
    ] {
        let res = deliver(&app, &body, signature).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(tier(&app, &tenant).await, Tier::Free, "{what}");
    }
    // A body changed by one byte after signing is refused too.
    let signature = sign(body.as_bytes(), &secret, now);
    let tampered = body.replace("subscription", "subscriptioN");
    let res = deliver(&app, &tampered, Some(signature.clone())).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    let res = deliver(&app, &body, Some(signature)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(tier(&app, &tenant).await, Tier::Pro);
    // Unknown events are acknowledged and ignored.
    let unknown = event(
        "evt_unknown",
        "charge.refunded",
        now,
        json!({ "id": "ch_1" }),
    );
    assert_eq!(send(&app, &unknown).await["outcome"], "ignored");
}

async fn a_replayed_event_changes_nothing_twice(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    let up = event(
        "evt_up",
        "checkout.session.completed",
        now - 20,
        completed(&tenant),
    );
    let down = event(
        "evt_down",
        "customer.subscription.deleted",
        now - 10,
        subscription(&tenant, "canceled"),
    );
    assert_eq!(send(&app, &up).await["outcome"], "applied");
    assert_eq!(send(&app, &down).await["outcome"], "applied");
    assert_eq!(send(&app, &up).await["outcome"], "duplicate");
    assert_eq!(send(&app, &down).await["outcome"], "duplicate");
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    let history = billing::history(&app.db, &tenant, app.clock.now())
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
}

async fn an_older_event_never_undoes_a_newer_one(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    // The cancellation (newer) arrives before the checkout (older).
    let deleted = event(
        "evt_del",
        "customer.subscription.deleted",
        now - 10,
        subscription(&tenant, "canceled"),
    );
    let old_checkout = event(
        "evt_old",
        "checkout.session.completed",
        now - 60,
        completed(&tenant),
    );
    send(&app, &deleted).await;
    assert_eq!(send(&app, &old_checkout).await["outcome"], "ignored");
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    // A newer checkout does apply.
    let new_checkout = event(
        "evt_new",
        "checkout.session.completed",
        now,
        completed(&tenant),
    );
    assert_eq!(send(&app, &new_checkout).await["outcome"], "applied");
    assert_eq!(tier(&app, &tenant).await, Tier::Pro);
}

async fn cancellation_downgrades_when_the_subscription_ends(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    send(
        &app,
        &event(
            "evt_1",
            "checkout.session.completed",
            now - 30,
            completed(&tenant),
        ),
    )
    .await;
    // Cancelled at period end: still Pro until the period is over.
    send(
        &app,
        &event(
            "evt_2",
            "customer.subscription.updated",
            now - 20,
            subscription(&tenant, "active"),
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Pro);
    send(
        &app,
        &event(
            "evt_3",
            "customer.subscription.deleted",
            now - 10,
            subscription(&tenant, "canceled"),
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    let history = billing::history(&app.db, &tenant, app.clock.now())
        .await
        .unwrap();
    assert_eq!((history[0].from, history[0].to), (Tier::Pro, Tier::Free));
    assert!(history[0]
        .changed_by
        .contains("customer.subscription.deleted evt_3"));
    // Enterprise is never changed by self-serve billing.
    let big = billed_tenant(&app, "Globex", Tier::Enterprise).await;
    send(
        &app,
        &event(
            "evt_4",
            "customer.subscription.deleted",
            now,
            subscription(&big, "canceled"),
        ),
    )
    .await;
    assert_eq!(tier(&app, &big).await, Tier::Enterprise);
}

async fn a_webhook_for_one_tenant_never_touches_another(app: TestApp) {
    let a = billed_tenant(&app, "Acme", Tier::Free).await;
    let b = billed_tenant(&app, "Globex", Tier::Free).await;
    send(
        &app,
        &event(
            "evt_a",
            "checkout.session.completed",
            app.clock.now(),
            completed(&a),
        ),
    )
    .await;
    assert_eq!(tier(&app, &a).await, Tier::Pro);
    assert_eq!(tier(&app, &b).await, Tier::Free);
    assert!(billing::history(&app.db, &b, app.clock.now())
        .await
        .unwrap()
        .is_empty());
    // An event for no tenant of ours changes nothing.
    let stranger = completed("00000000-0000-0000-0000-000000000000");
    assert_eq!(
        send(
            &app,
            &event(
                "evt_x",
                "checkout.session.completed",
                app.clock.now(),
                stranger
            )
        )
        .await["outcome"],
        "ignored"
    );
}

async fn a_failed_payment_warns_until_a_payment_succeeds(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let client = app.signed_in(&tenant, "owner@acme.test", Role::Owner).await;
    let now = app.clock.now();
    send(
        &app,
        &event(
            "evt_1",
            "checkout.session.completed",
            now - 30,
            completed(&tenant),
        ),
    )
    .await;
    let invoice = json!({ "id": "in_1", "object": "invoice", "subscription_details": { "metadata": { "tenant_id": tenant } } });
    send(
        &app,
        &event("evt_2", "invoice.payment_failed", now - 20, invoice.clone()),
    )
    .await;
    let html = get(&app, &client, "/analytics").await.1;
    assert!(html.contains("data-testid=\"payment-failed-banner\""));
    send(&app, &event("evt_3", "invoice.paid", now - 10, invoice)).await;
    let html = get(&app, &client, "/analytics").await.1;
    assert!(!html.contains("payment-failed-banner"));
}

async fn the_upgrade_endpoint_refuses_what_it_must(app: TestApp) {
    let free = app.tenant("Acme", Tier::Free).await;
    let post = |client: &reqwest::Client, origin: &str| {
        client
            .post(app.url("/api/tiers/upgrade"))
            .header("origin", origin)
            .header("accept", "application/json")
            .send()
    };
    // Signed out: 401, not a redirect.
    let res = post(&app.client(), &app.base).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let viewer = app.signed_in(&free, "viewer@acme.test", Role::Viewer).await;
    let res = post(&viewer, &app.base).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = app.signed_in(&free, "admin@acme.test", Role::Admin).await;
    let res = post(&admin, "https://evil.example").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(billing::account(&app.db, &free)
        .await
        .unwrap()
        .stripe_customer_id
        .is_none());

    let pro = app.tenant("Globex", Tier::Pro).await;
    let owner = app.signed_in(&pro, "owner@globex.test", Role::Owner).await;
    let res = post(&owner, &app.base).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("already on Pro"));
}

async fn upgrading_through_checkout_makes_the_tenant_pro(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let admin = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let res = admin
        .post(app.url("/api/tiers/upgrade"))
        .header("origin", app.base.as_str())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let url = res.json::<Value>().await.unwrap()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.contains("/checkout/cs_test_"), "{url}");
    let customer = billing::account(&app.db, &tenant)
        .await
        .unwrap()
        .stripe_customer_id;
    assert!(customer.as_deref().is_some_and(|c| c.starts_with("cus_")));

    // Without JavaScript the form post gets a 303 to a checkout page, and the
    // same Stripe customer is reused.
    let res = admin
        .post(app.url("/api/tiers/upgrade"))
        .header("origin", app.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("/checkout/cs_test_"));
    assert_eq!(
        billing::account(&app.db, &tenant)
            .await
            .unwrap()
            .stripe_customer_id,
        customer
    );

    // Back before the webhook: the page says so and reloads by itself; a
    // cancelled checkout changed nothing.
    let html = admin
        .get(app.url("/settings/tier?checkout=success"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"checkout-pending\""));
    assert!(html.contains("http-equiv=\"refresh\""));
    let html = admin
        .get(app.url("/settings/tier?checkout=cancel"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"checkout-cancelled\""));

    // Paying on the double's page sends the signed webhook, then returns.
    let page = app
        .client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Stripe test double"));
    let res = app
        .client()
        .post(format!("{url}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).ends_with("/settings/tier?checkout=success"));
    assert_eq!(tier(&app, &tenant).await, Tier::Pro);
    let html = admin
        .get(app.url("/settings/tier?checkout=success"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("data-testid=\"checkout-done\""));
    assert!(!html.contains("http-equiv=\"refresh\""));
    assert!(html.contains("50,000"));
    assert!(html.contains("Free → Pro"));
    // Now "Manage billing" opens the customer portal.
    let res = admin
        .post(app.url("/api/tiers/portal"))
        .header("origin", app.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("/portal/cus_"));
}

async fn stripe_down_means_a_clear_error_and_no_change(database: TestDb) {
    // Stripe configured, but nothing answers where it should be.
    let reserved = crate::common::closed_port();
    let closed = reserved.local_addr().unwrap();
    let app = TestApp::start_configured(database, move |c| {
        c.stripe_secret_key = Some("sk_test_unreachable".into());
        c.stripe_pro_price_id = Some("price_pro".into());
        c.stripe_webhook_secret = Some("whsec_configured".into());
        c.stripe_api_base = Some(format!("http://{closed}/"));
    })
    .await;
    assert_eq!(app.stripe_webhook_secret, "whsec_configured");
    let tenant = app.tenant("Acme", Tier::Free).await;
    let admin = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let res = admin
        .post(app.url("/api/tiers/upgrade"))
        .header("origin", app.base.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let html = res.text().await.unwrap();
    assert!(html.contains("data-testid=\"billing-problem\""));
    assert!(html.contains("nothing was changed"));
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    let res = admin
        .post(app.url("/api/tiers/upgrade"))
        .header("origin", app.base.as_str())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "stripe_unavailable");
}

async fn a_checkout_for_another_customer_changes_nothing(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    // A checkout made elsewhere on the Stripe account, naming our tenant.
    let mut foreign = completed(&tenant);
    foreign["customer"] = json!("cus_someone_else");
    let sent = send(
        &app,
        &event("evt_foreign", "checkout.session.completed", now, foreign),
    )
    .await;
    assert_eq!(sent["outcome"], "ignored");
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    // A tenant the portal made no customer for cannot be upgraded by one.
    let bare = app.tenant("Globex", Tier::Free).await;
    send(
        &app,
        &event(
            "evt_bare",
            "checkout.session.completed",
            now,
            completed(&bare),
        ),
    )
    .await;
    assert_eq!(tier(&app, &bare).await, Tier::Free);
    assert!(billing::account(&app.db, &bare)
        .await
        .unwrap()
        .stripe_customer_id
        .is_none());
}

async fn an_unpaid_checkout_waits_for_its_payment(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    let mut pending = completed(&tenant);
    pending["payment_status"] = json!("unpaid");
    send(
        &app,
        &event(
            "evt_pending",
            "checkout.session.completed",
            now - 20,
            pending.clone(),
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
    send(
        &app,
        &event(
            "evt_settled",
            "checkout.session.async_payment_succeeded",
            now - 10,
            pending,
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Pro);
}

async fn a_subscription_to_another_price_is_not_pro(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let mut cheap = subscription(&tenant, "active");
    cheap["items"] = json!({ "data": [{ "price": { "id": "price_something_else" } }] });
    let now = app.clock.now();
    send(
        &app,
        &event("evt_cheap", "customer.subscription.created", now, cheap),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
}

async fn a_newer_invoice_does_not_make_an_older_plan_event_stale(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    send(
        &app,
        &event(
            "evt_up",
            "checkout.session.completed",
            now - 100,
            completed(&tenant),
        ),
    )
    .await;
    let invoice = json!({ "id": "in_1", "object": "invoice", "customer": customer_of(&tenant),
                          "subscription_details": { "metadata": { "tenant_id": tenant } } });
    send(&app, &event("evt_paid", "invoice.paid", now, invoice)).await;
    // The deletion happened before the invoice event but arrives after it.
    send(
        &app,
        &event(
            "evt_gone",
            "customer.subscription.deleted",
            now - 10,
            subscription(&tenant, "canceled"),
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
}

async fn past_due_warns_and_unpaid_ends_pro(app: TestApp) {
    let tenant = billed_tenant(&app, "Acme", Tier::Free).await;
    let now = app.clock.now();
    send(
        &app,
        &event(
            "evt_up",
            "checkout.session.completed",
            now - 30,
            completed(&tenant),
        ),
    )
    .await;
    send(
        &app,
        &event(
            "evt_late",
            "customer.subscription.updated",
            now - 20,
            subscription(&tenant, "past_due"),
        ),
    )
    .await;
    let account = billing::account(&app.db, &tenant).await.unwrap();
    assert_eq!(account.tier, Tier::Pro);
    assert!(account.payment_failed_at.is_some(), "the banner shows");
    send(
        &app,
        &event(
            "evt_unpaid",
            "customer.subscription.updated",
            now - 10,
            subscription(&tenant, "unpaid"),
        ),
    )
    .await;
    assert_eq!(tier(&app, &tenant).await, Tier::Free);
}
