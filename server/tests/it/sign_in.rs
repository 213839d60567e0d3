use app::domain::sign_in::{self, WINDOW_SECS};
use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::common::{location, TestApp, PASSWORD};
use crate::on_both_backends;

on_both_backends!(
    TestApp =>
    pages_without_a_session_redirect_to_login,
    portal_endpoints_without_a_session_answer_401_json,
    good_sign_in_lands_on_the_requested_page,
    wrong_credentials_get_one_generic_message_and_no_session,
    external_next_is_ignored,
    sign_out_ends_the_session_on_the_server,
    session_cookie_is_http_only_lax_and_cycled,
    repeated_failures_for_an_email_are_throttled,
    repeated_failures_from_an_ip_are_throttled,
    cross_site_sign_in_posts_are_refused,
    unknown_pages_are_404_for_members,
);

async fn signed_in(app: &TestApp) -> reqwest::Client {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let client = app.client();
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/analytics")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    client
}

async fn pages_without_a_session_redirect_to_login(app: TestApp) {
    let client = app.client();
    for (path, next) in [
        ("/analytics", "%2Fanalytics"),
        ("/settings/tier", "%2Fsettings%2Ftier"),
        ("/agents", "%2Fagents"),
        ("/analytics?days=7", "%2Fanalytics%3Fdays%3D7"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), format!("/login?next={next}"), "{path}");
    }
    let login = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let html = login.text().await.unwrap();
    assert!(html.contains(">Email</label>") && html.contains(">Password</label>"));
    assert!(html.contains(">Sign in</button>"));
}

async fn portal_endpoints_without_a_session_answer_401_json(app: TestApp) {
    for path in ["/api/tiers/upgrade", "/api/tiers/portal"] {
        let res = app.client().post(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated", "{path}");
    }
    // An endpoint that does not exist says so, in JSON too.
    let res = app
        .client()
        .post(app.url("/api/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

async fn good_sign_in_lands_on_the_requested_page(app: TestApp) {
    let tenant = app.tenant("Acme Robotics", Tier::Pro).await;
    app.member(&tenant, "Ada@Acme.example", Role::Owner).await;
    let client = app.client();
    // E-mails are case-insensitive.
    let res = app
        .sign_in(&client, "ADA@acme.example", PASSWORD, "/settings/tier")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/settings/tier");
    let page = client.get(app.url("/settings/tier")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Acme Robotics"), "tenant name in the header");
    assert!(html.contains("ada@acme.example"), "e-mail in the header");
    assert!(html.contains("Sign out"));
    // Signed in, the sign-in page sends the member on.
    let res = client
        .get(app.url("/login?next=%2Fagents"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/agents");
    let res = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(location(&res), "/analytics");
}

async fn wrong_credentials_get_one_generic_message_and_no_session(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let client = app.client();
    let mut bodies = Vec::new();
    for (email, password) in [
        ("ada@acme.example", "wrong password"),
        ("nobody@acme.example", PASSWORD),
    ] {
        let res = app.sign_in(&client, email, password, "/analytics").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(
            res.headers().get("set-cookie").is_none(),
            "no session on failure"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("The email or password is incorrect."));
        bodies.push(html.replace("nobody@acme.example", "ada@acme.example"));
    }
    // Same page for a wrong password and an unknown account (bar the nonce).
    let strip = |s: &str| s.split("nonce=").next().unwrap().to_owned();
    assert_eq!(strip(&bodies[0]), strip(&bodies[1]));
    let res = client.get(app.url("/analytics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // Missing fields: a clear 400, not a crash.
    let res = client
        .post(app.url("/login"))
        .form(&[("email", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Enter your email and password."));
}

async fn external_next_is_ignored(app: TestApp) {
    let client = signed_in(&app).await;
    for next in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let res = app
            .sign_in(&client, "ada@acme.example", PASSWORD, next)
            .await;
        assert_eq!(location(&res), "/analytics", "{next}");
    }
}

async fn sign_out_ends_the_session_on_the_server(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let client = app.client();
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/analytics")
        .await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = client.post(app.url("/logout")).send().await.unwrap();
    assert_eq!(location(&res), "/login");
    // Replaying the old cookie does not bring the session back.
    let replay = app.client();
    let res = replay
        .get(app.url("/analytics"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"));
}

async fn session_cookie_is_http_only_lax_and_cycled(app: TestApp) {
    let client = signed_in(&app).await;
    let first = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    let second = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    let cookie = |r: &reqwest::Response| r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let (a, b) = (cookie(&first), cookie(&second));
    assert!(a.contains("HttpOnly") && a.contains("SameSite=Lax"), "{a}");
    assert!(a.contains("Max-Age=43200"), "12 h inactivity expiry: {a}");
    assert!(
        !a.contains("Secure"),
        "loopback address: not Secure by default"
    );
    assert_ne!(
        a.split(';').next(),
        b.split(';').next(),
        "id cycled at sign-in"
    );
}

async fn repeated_failures_for_an_email_are_throttled(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let client = app.client();
    for _ in 0..5 {
        let res = app
            .sign_in(&client, "ada@acme.example", "nope nope", "/")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now.
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= WINDOW_SECS, "{retry}");
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-in attempts"));
    // Once the failures leave the window, signing in works again.
    app.clock.advance(WINDOW_SECS + 1);
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn repeated_failures_from_an_ip_are_throttled(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let client = app.client();
    for i in 0..sign_in::PER_CLIENT {
        let res = app
            .sign_in(&client, &format!("guess{i}@acme.example"), "nope nope", "/")
            .await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

async fn cross_site_sign_in_posts_are_refused(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let res = app
        .client()
        .post(app.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("email", "ada@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get("set-cookie").is_none());
}

async fn unknown_pages_are_404_for_members(app: TestApp) {
    let client = signed_in(&app).await;
    let res = client.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("Page not found"));
}
