//! My account: password change, signing out everywhere, password reset.

use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::common::{TestApp, PASSWORD};
use crate::on_both_backends;
use crate::signup::{get, post, without_nonce, STRONG};

on_both_backends!(
    TestApp =>
    changing_the_password_ends_every_other_session,
    sign_out_everywhere_ends_this_session_too,
    a_forgotten_password_is_reset_through_the_mailed_link,
    reset_links_expire_after_an_hour_and_work_once,
    a_reset_request_tells_nothing_about_the_address,
);

async fn changing_the_password_ends_every_other_session(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let laptop = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let phone = app.client();
    app.sign_in(&phone, "ada@acme.example", PASSWORD, "/analytics")
        .await;
    let wrong = [("current_password", "not it"), ("password", STRONG)];
    let (status, page) = post(&app, &laptop, "/settings/account/password", &wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("The current password is not right"));
    let weak = [("current_password", PASSWORD), ("password", "password1234")];
    let (status, page) = post(&app, &laptop, "/settings/account/password", &weak).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("too easy to guess"));
    assert_eq!(
        get(&app, &phone, "/analytics").await.0,
        StatusCode::OK,
        "nothing changed yet"
    );

    let good = [("current_password", PASSWORD), ("password", STRONG)];
    let (status, page) = post(&app, &laptop, "/settings/account/password", &good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Password changed"));
    assert_eq!(
        get(&app, &laptop, "/analytics").await.0,
        StatusCode::OK,
        "this session lives on"
    );
    assert_eq!(
        get(&app, &phone, "/analytics").await.0,
        StatusCode::SEE_OTHER,
        "the other ended"
    );
    let old = app
        .sign_in(&app.client(), "ada@acme.example", PASSWORD, "/")
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let new = app
        .sign_in(&app.client(), "ada@acme.example", STRONG, "/")
        .await;
    assert_eq!(new.status(), StatusCode::SEE_OTHER);
}

async fn sign_out_everywhere_ends_this_session_too(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let laptop = app
        .signed_in(&tenant, "ada@acme.example", Role::Viewer)
        .await;
    let phone = app.client();
    app.sign_in(&phone, "ada@acme.example", PASSWORD, "/analytics")
        .await;
    let (status, to) = post(&app, &laptop, "/settings/account/sign-out-everywhere", &[]).await;
    assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/login"));
    for client in [&laptop, &phone] {
        assert_eq!(get(&app, client, "/agents").await.0, StatusCode::SEE_OTHER);
    }
    let again = app
        .sign_in(&app.client(), "ada@acme.example", PASSWORD, "/")
        .await;
    assert_eq!(
        again.status(),
        StatusCode::SEE_OTHER,
        "the password still works"
    );
}

async fn a_forgotten_password_is_reset_through_the_mailed_link(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let old_session = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let (status, page) = post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "ADA@acme.example")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If ada@acme.example has an account"));
    let mail = app.mail.nth("ada@acme.example", 1).await;
    assert!(mail.subject().contains("Reset your password"));
    let token = mail.token("/reset-password");
    let (status, page) = get(
        &app,
        &app.client(),
        &format!("/reset-password?token={token}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Choose a new password"));
    let weak = [("token", token.as_str()), ("password", "short")];
    let (status, page) = post(&app, &app.client(), "/reset-password", &weak).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("at least 12") && page.contains(&token),
        "the link is kept for a retry"
    );
    let good = [("token", token.as_str()), ("password", STRONG)];
    let (status, page) = post(&app, &app.client(), "/reset-password", &good).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Your password was changed"));
    assert_eq!(
        get(&app, &old_session, "/analytics").await.0,
        StatusCode::SEE_OTHER,
        "sessions ended"
    );
    let res = app
        .sign_in(&app.client(), "ada@acme.example", STRONG, "/")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn reset_links_expire_after_an_hour_and_work_once(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "ada@acme.example")],
    )
    .await;
    let first = app
        .mail
        .nth("ada@acme.example", 1)
        .await
        .token("/reset-password");
    let link = format!("/reset-password?token={first}");
    let (status, page) = get(&app, &app.client(), &link).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"password\""), "the form");
    let form = [("token", first.as_str()), ("password", STRONG)];
    assert_eq!(
        post(&app, &app.client(), "/reset-password", &form).await.0,
        StatusCode::OK
    );
    assert_eq!(
        post(&app, &app.client(), "/reset-password", &form).await.0,
        StatusCode::BAD_REQUEST
    );
    // The used link says so as soon as it is opened, with no form that
    // could only fail, and a way to a new one.
    let (status, page) = get(&app, &app.client(), &link).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired or was already used"), "{page}");
    assert!(!page.contains("name=\"password\""));
    assert!(page.contains("href=\"/forgot-password\""));
    post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "ada@acme.example")],
    )
    .await;
    let second = app
        .mail
        .nth("ada@acme.example", 2)
        .await
        .token("/reset-password");
    app.clock.advance(3601);
    let form = [
        ("token", second.as_str()),
        ("password", "another fine password here"),
    ];
    let (status, page) = post(&app, &app.client(), "/reset-password", &form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("expired or was already used"));
}

async fn a_reset_request_tells_nothing_about_the_address(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    let (known_status, known) = post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "ada@acme.example")],
    )
    .await;
    let (unknown_status, unknown) = post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "nobody@acme.example")],
    )
    .await;
    assert_eq!(
        (known_status, unknown_status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        without_nonce(&known.replace("ada@acme.example", "X")),
        without_nonce(&unknown.replace("nobody@acme.example", "X"))
    );
    app.mail.wait_for("ada@acme.example", 1).await;
    assert!(app.mail.to("nobody@acme.example").is_empty());
    // An address cannot be flooded with reset mail.
    for _ in 0..5 {
        post(
            &app,
            &app.client(),
            "/forgot-password",
            &[("email", "ada@acme.example")],
        )
        .await;
    }
    let (status, _) = post(
        &app,
        &app.client(),
        "/forgot-password",
        &[("email", "ada@acme.example")],
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        app.mail.to("ada@acme.example").len() as i64,
        app::domain::account::RESETS_PER_EMAIL
    );
}
