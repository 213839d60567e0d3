//! Sign-up, e-mail verification and the read-only state before it.

use std::time::Instant;

use reqwest::StatusCode;

use crate::common::{location, TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    TestApp =>
    a_sign_up_creates_nothing_until_the_mailed_link_is_used,
    a_taken_address_gets_the_same_answer_and_its_owner_a_warning,
    weak_passwords_and_bad_input_are_refused_with_reasons,
    verification_links_expire_after_a_day,
    a_new_verification_link_is_throttled_and_replaces_the_old,
    sign_ups_are_throttled_per_client,
    a_pending_sign_up_creates_nothing_once_sign_up_is_closed,
    guesses_at_a_sign_up_s_password_are_throttled,
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

/// The token of the `n`th verification mail to `to`.
async fn verification_token(app: &TestApp, to: &str, n: usize) -> String {
    app.mail.nth(to, n).await.token("/verify-email")
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

async fn a_sign_up_creates_nothing_until_the_mailed_link_is_used(app: TestApp) {
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

    // Nothing exists yet: the password just chosen signs nobody in.
    assert_eq!(tenants(&app).await, 0);
    let res = app
        .sign_in(&app.client(), "grace@initech.example", STRONG, "/agents")
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Opening the link does not use it (mail scanners open links too); its
    // page names the organisation, which the mail did not.
    assert!(
        !mail.text.contains("Initech"),
        "no sign-up's words in the mail"
    );
    let (status, page) = get(&app, &app.client(), &format!("/verify-email?token={token}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Verify my address"));
    assert!(page.contains("value=\"Initech\""), "{page}");
    assert_eq!(tenants(&app).await, 0);
    // Someone with the link but not the password (the address's owner, when
    // a stranger signed it up) creates nothing.
    let (status, page) = post(
        &app,
        &app.client(),
        "/verify-email",
        &[("token", &token), ("password", "not the one chosen")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("not the password chosen at sign-up"),
        "{page}"
    );
    assert_eq!(tenants(&app).await, 0);
    let client = app.client();
    let (status, page) = post(
        &app,
        &client,
        "/verify-email",
        &[("token", &token), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("your organisation is ready"), "{page}");
    // Signed in, as the verified owner of the new free organisation.
    assert_eq!(register_agent(&app, &client).await, StatusCode::CREATED);
    let (status, _) = post(
        &app,
        &app.client(),
        "/verify-email",
        &[("token", &token), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "single use");
    let tier: String = sqlx::query_scalar("SELECT tier FROM tenants WHERE name = 'Initech'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(tier, "free");
    // And the password chosen at sign-up is the account's.
    let res = app
        .sign_in(&app.client(), "grace@initech.example", STRONG, "/agents")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// `page` with `address` written as `someone@example.com`, and without its
/// nonce: what a stranger could compare.
fn as_anyone(page: &str, address: &str) -> String {
    without_nonce(&page.replace(address, "someone@example.com"))
}

async fn a_taken_address_gets_the_same_answer_and_its_owner_a_warning(app: TestApp) {
    let initech = app.tenant("Initech", app::model::Tier::Free).await;
    app.member(&initech, "grace@initech.example", app::model::Role::Owner)
        .await;
    let before = tenants(&app).await;
    // A taken address with a free name; a free address with a taken name.
    let started = Instant::now();
    let (taken, taken_page) = sign_up(&app, "Initrode", "grace@initech.example").await;
    let taken_time = started.elapsed();
    let started = Instant::now();
    let (new, new_page) = sign_up(&app, "Initech", "alice@umbrella.example").await;
    let new_time = started.elapsed();
    assert_eq!((taken, new), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        as_anyone(&taken_page, "grace@initech.example"),
        as_anyone(&new_page, "alice@umbrella.example"),
        "the same page, word for word"
    );
    assert_eq!(
        tenants(&app).await,
        before,
        "nothing created before the link"
    );
    // Signing in with the password just chosen: the same refusal for both.
    let mut refusals = Vec::new();
    for address in ["grace@initech.example", "alice@umbrella.example"] {
        let res = app.sign_in(&app.client(), address, STRONG, "/").await;
        let status = res.status();
        refusals.push((status, as_anyone(&res.text().await.unwrap(), address)));
    }
    assert_eq!(refusals[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(refusals[0], refusals[1]);
    let mails = app.mail.wait_for("grace@initech.example", 1).await;
    assert!(
        mails[0].subject().contains("Someone tried to sign up"),
        "{}",
        mails[0].subject()
    );
    // Both answers hash the password; neither is a tell (a loose bound: the
    // two take about the same, far below the hash's own cost variance).
    let (a, b) = (taken_time.as_millis() as i64, new_time.as_millis() as i64);
    assert!((a - b).abs() < 400, "taken {a} ms vs new {b} ms");

    // Alice's link: the name is taken, which she (the address's proven
    // owner) is told now, and she picks another.
    let token = verification_token(&app, "alice@umbrella.example", 1).await;
    let client = app.client();
    let (status, page) = post(
        &app,
        &client,
        "/verify-email",
        &[("token", &token), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("exists already"), "{page}");
    assert!(
        page.contains("name=\"organisation\""),
        "a field to rename it"
    );
    let (status, page) = post(
        &app,
        &client,
        "/verify-email",
        &[
            ("token", &token),
            ("password", STRONG),
            ("organisation", "Umbrella"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(register_agent(&app, &client).await, StatusCode::CREATED);
    assert_eq!(tenants(&app).await, before + 1);
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
    let token = verification_token(&app, "grace@initech.example", 1).await;
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

/// A member whose address was never proven (made before sign-ups waited
/// for their link) asks for a new link: at most one a minute, however many
/// requests race, and each new one ends the one before.
async fn a_new_verification_link_is_throttled_and_replaces_the_old(app: TestApp) {
    let tenant = app.tenant("Initech", app::model::Tier::Free).await;
    app.member(&tenant, "grace@initech.example", app::model::Role::Owner)
        .await;
    sqlx::query("UPDATE members SET email_verified_at = NULL")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let client = app.signed_in_existing("grace@initech.example").await;
    let app = &app;
    let resend = || {
        let client = client.clone();
        async move { post(app, &client, "/settings/account/verification", &[]).await }
    };
    // A burst at once: one link.
    let burst = futures::future::join_all((0..10).map(|_| resend())).await;
    let sent = burst.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(
        sent,
        1,
        "{:?}",
        burst.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    let old = verification_token(app, "grace@initech.example", 1).await;
    let (status, page) = resend().await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("ask again in"),
        "within a minute of the first"
    );
    app.clock.advance(61);
    let (status, page) = resend().await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("We sent a new link"), "{page}");
    let new = verification_token(app, "grace@initech.example", 2).await;
    let (status, _) = post(app, &app.client(), "/verify-email", &[("token", &old)]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old link stopped working"
    );
    let (status, page) = post(app, &app.client(), "/verify-email", &[("token", &new)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your address is verified"), "{page}");
    assert_eq!(register_agent(app, &client).await, StatusCode::CREATED);
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
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_signups")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, limit);
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

/// An operator closes sign-up while links are still out: they create
/// nothing.
async fn a_pending_sign_up_creates_nothing_once_sign_up_is_closed(app: TestApp) {
    sign_up(&app, "Initech", "grace@initech.example").await;
    let token = verification_token(&app, "grace@initech.example", 1).await;
    let app =
        TestApp::start_configured(app.stop(), |c| c.signup = server::config::Signup::Closed).await;
    let (status, page) = post(
        &app,
        &app.client(),
        "/verify-email",
        &[("token", &token), ("password", STRONG)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("Sign-up is closed"), "{page}");
    assert_eq!(tenants(&app).await, 0);
}

/// Whoever holds a sign-up's link cannot try passwords on it for a day:
/// a few, then 429 before any check, the right one included.
async fn guesses_at_a_sign_up_s_password_are_throttled(app: TestApp) {
    use app::domain::signup::VERIFY_GUESSES;
    sign_up(&app, "Initech", "grace@initech.example").await;
    let token = verification_token(&app, "grace@initech.example", 1).await;
    let attempt = |password: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            post(
                app,
                &app.client(),
                "/verify-email",
                &[("token", token.as_str()), ("password", password)],
            )
            .await
            .0
        }
    };
    for _ in 0..VERIFY_GUESSES {
        assert_eq!(attempt("a wrong guess").await, StatusCode::BAD_REQUEST);
    }
    assert_eq!(attempt(STRONG).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(tenants(&app).await, 0);
}
