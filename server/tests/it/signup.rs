//! Sign-up, e-mail verification and the read-only state before it.

use std::time::Instant;

use reqwest::StatusCode;

use crate::common::{location, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    TestApp =>
    a_sign_up_is_read_only_until_the_mailed_link_is_used,
    a_taken_address_gets_the_same_answer_and_its_owner_a_warning,
    weak_passwords_and_bad_input_are_refused_with_reasons,
    verification_links_expire_after_a_day,
    a_new_verification_link_is_throttled_and_replaces_the_old,
    sign_ups_are_throttled_per_client,
);

on_both_backends!(
    TestDb =>
    closed_sign_up_is_404,
);

/// A page without its per-response CSP nonce.
pub fn without_nonce(page: &str) -> String {
    page.split("nonce=\"")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.split_once('"').map_or(part, |(_, rest)| rest)
            }
        })
        .collect::<Vec<_>>()
        .join("nonce=")
}

pub const STRONG: &str = "violet staple engine harbour";

pub async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    let res = client.post(app.url(path)).form(form).send().await.unwrap();
    let status = res.status();
    let location = location(&res);
    let body = res.text().await.unwrap();
    (status, if body.is_empty() { location } else { body })
}

pub async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    let location = location(&res);
    let body = res.text().await.unwrap();
    (status, if body.is_empty() { location } else { body })
}

/// Signs up `email` for `organisation`; returns the answer.
pub async fn sign_up(app: &TestApp, organisation: &str, email: &str) -> (StatusCode, String) {
    post(
        app,
        &app.client(),
        "/signup",
        &[
            ("organisation", organisation),
            ("email", email),
            ("password", STRONG),
        ],
    )
    .await
}

async fn tenants(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

pub async fn register_agent(app: &TestApp, client: &reqwest::Client) -> StatusCode {
    let form = [
        ("name", "Support bot"),
        ("agent_type", "assistant"),
        ("version", "1.0.0"),
        ("capabilities", "analytics:read"),
        ("owner", "ops"),
        ("environment", "production"),
    ];
    post(app, client, "/agents", &form).await.0
}

async fn a_sign_up_is_read_only_until_the_mailed_link_is_used(app: TestApp) {
    let (status, body) = sign_up(&app, "Initech", "Grace@Initech.example").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("We sent a message to grace@initech.example"),
        "{body}"
    );
    let mail = app.mail.nth("grace@initech.example", 1).await;
    assert!(
        mail.subject().contains("Verify your e-mail"),
        "{}",
        mail.subject()
    );
    assert!(mail.text.contains("Content-Type: text/plain"));
    assert!(mail.text.contains("Content-Type: text/html"));
    let token = mail.token("/verify-email");

    let client = app.client();
    let res = app
        .sign_in(&client, "grace@initech.example", STRONG, "/agents")
        .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the owner signs in at once"
    );
    let (status, page) = get(&app, &client, "/agents").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Verify your e-mail address"),
        "the banner says why"
    );
    assert_eq!(register_agent(&app, &client).await, StatusCode::FORBIDDEN);

    // Opening the link does not use it (mail scanners open links too).
    let (status, page) = get(&app, &app.client(), &format!("/verify-email?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Verify my address"));
    let (status, page) = post(&app, &app.client(), "/verify-email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Your address is verified"));
    assert_eq!(register_agent(&app, &client).await, StatusCode::CREATED);
    let (status, page) = post(&app, &app.client(), "/verify-email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "single use");
    assert!(page.contains("expired or was already used"));
    let tier: String = sqlx::query_scalar("SELECT tier FROM tenants WHERE name = 'Initech'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tier, "free");
}

async fn a_taken_address_gets_the_same_answer_and_its_owner_a_warning(app: TestApp) {
    let (first, first_body) = sign_up(&app, "Initech", "grace@initech.example").await;
    assert_eq!(first, StatusCode::OK);
    let before = tenants(&app).await;
    let started = Instant::now();
    let (again, again_body) = sign_up(&app, "Initrode", "grace@initech.example").await;
    let taken = started.elapsed();
    let started = Instant::now();
    let (new, _) = sign_up(&app, "Umbrella", "alice@umbrella.example").await;
    let fresh = started.elapsed();
    assert_eq!((again, new), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        without_nonce(&again_body),
        without_nonce(&first_body),
        "the same page, word for word"
    );
    assert_eq!(tenants(&app).await, before + 1, "only Umbrella was created");
    let mails = app.mail.wait_for("grace@initech.example", 2).await;
    assert!(
        mails[1].subject().contains("Someone tried to sign up"),
        "{}",
        mails[1].subject()
    );
    // Both answers hash the password; neither is a tell (a loose bound: the
    // two take about the same, far below the hash's own cost variance).
    let (a, b) = (taken.as_millis() as i64, fresh.as_millis() as i64);
    assert!((a - b).abs() < 400, "taken {a} ms vs new {b} ms");
}

async fn weak_passwords_and_bad_input_are_refused_with_reasons(app: TestApp) {
    let client = app.client();
    let cases: [(&str, &str, &str, &str); 5] = [
        ("Initech", "grace@initech.example", "short", "at least 12"),
        (
            "Initech",
            "grace@initech.example",
            "password1234",
            "too easy",
        ),
        (
            "Initech",
            "grace@initech.example",
            "initechinitech",
            "too easy",
        ),
        ("", "grace@initech.example", STRONG, "1 to 100 characters"),
        ("Initech", "not-an-address", STRONG, "valid e-mail"),
    ];
    for (org, email, password, why) in cases {
        let form = [
            ("organisation", org),
            ("email", email),
            ("password", password),
        ];
        let (status, page) = post(&app, &client, "/signup", &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{org} {email} {password}");
        assert!(page.contains(why), "{why:?} missing for {password:?}");
        // What was typed is kept, except the password.
        if !org.is_empty() {
            assert!(page.contains(&format!("value=\"{org}\"")));
        }
        assert!(!page.contains(&format!("value=\"{password}\"")));
    }
    assert_eq!(tenants(&app).await, 0);
}

async fn verification_links_expire_after_a_day(app: TestApp) {
    sign_up(&app, "Initech", "grace@initech.example").await;
    let token = app
        .mail
        .nth("grace@initech.example", 1)
        .await
        .token("/verify-email");
    app.clock.advance(24 * 3600 + 1);
    let (status, page) = post(&app, &app.client(), "/verify-email", &[("token", &token)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired"));
    let (status, _) = post(
        &app,
        &app.client(),
        "/verify-email",
        &[("token", "made-up")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn a_new_verification_link_is_throttled_and_replaces_the_old(app: TestApp) {
    sign_up(&app, "Initech", "grace@initech.example").await;
    let old = app
        .mail
        .nth("grace@initech.example", 1)
        .await
        .token("/verify-email");
    let client = app.client();
    app.sign_in(&client, "grace@initech.example", STRONG, "/analytics")
        .await;
    let (status, page) = post(&app, &client, "/settings/account/verification", &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("ask again in"),
        "within a minute of the first"
    );
    app.clock.advance(61);
    let (status, page) = post(&app, &client, "/settings/account/verification", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("We sent a new link"), "{page}");
    let new = app
        .mail
        .nth("grace@initech.example", 2)
        .await
        .token("/verify-email");
    let (status, _) = post(&app, &app.client(), "/verify-email", &[("token", &old)]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old link stopped working"
    );
    let (status, _) = post(&app, &app.client(), "/verify-email", &[("token", &new)]).await;
    assert_eq!(status, StatusCode::OK);
}

async fn sign_ups_are_throttled_per_client(app: TestApp) {
    let limit = app::domain::signup::PER_CLIENT;
    for i in 0..limit {
        let (status, _) = sign_up(&app, &format!("Org {i}"), &format!("o{i}@x.example")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, page) = sign_up(&app, "One more", "more@x.example").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.contains("Too many attempts"));
    assert_eq!(tenants(&app).await, limit);
}

async fn closed_sign_up_is_404(db: TestDb) {
    let app = TestApp::start_configured(db, |c| c.signup = server::config::Signup::Closed).await;
    let (status, _) = get(&app, &app.client(), "/signup").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sign_up(&app, "Initech", "grace@initech.example").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, login) = get(&app, &app.client(), "/login").await;
    assert!(!login.contains("/signup"), "no link to a closed page");
    assert_eq!(tenants(&app).await, 0);
}
