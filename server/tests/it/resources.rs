//! Tokens bound to a resource (RFC 8707): an agent's list of resources, the
//! `resource` parameter, `aud`, `invalid_target`, introspection, and the
//! portal's own API refusing a token meant for another server.

use app::model::{Role, Tier};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::StatusCode;

use crate::agents_pages::test_id;
use crate::common::{http_client, TestApp};
use crate::on_both_backends;
use crate::signup::{get, post};

on_both_backends!(
    TestApp =>
    tokens_carry_the_resources_asked_for_and_no_other,
    a_token_for_another_resource_does_not_open_the_portal_s_api,
    only_admins_change_resources_and_bad_ones_change_nothing,
    a_parameter_given_twice_is_refused_but_resource_repeats,
);

const API: &str = "https://api.acme.example";
const FILES: &str = "https://files.acme.example/v1";

/// An agent of a Pro tenant whose admin listed `API` and `FILES` on its
/// page; the admin's client.
async fn agent_with_resources(app: &TestApp) -> (String, String, String, reqwest::Client) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let resources = format!("{API}\n{FILES}\n");
    let (status, location) = post(
        app,
        &admin,
        &format!("/agents/{id}/resources"),
        &[("resources", &resources)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    (tenant, id, secret, admin)
}

/// The claims of a JWT, unverified (the token tests verify signatures).
fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn access_token(res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

fn remaining(res: &reqwest::Response) -> u64 {
    res.headers()["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn tokens_carry_the_resources_asked_for_and_no_other(app: TestApp) {
    let (_, id, secret, admin) = agent_with_resources(&app).await;
    let (_, html) = get(&app, &admin, &format!("/agents/{id}")).await;
    assert!(
        html.contains(API) && html.contains(FILES),
        "the page lists them"
    );
    let details: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'agent.resources_changed'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(details, [format!("{API} {FILES}")]);

    let one = access_token(app.token_with(&id, &secret, &[("resource", API)]).await).await;
    assert_eq!(claims(&one)["aud"], API);
    let both = app
        .token_with(&id, &secret, &[("resource", API), ("resource", FILES)])
        .await;
    let both = access_token(both).await;
    assert_eq!(claims(&both)["aud"], serde_json::json!([API, FILES]));
    let plain = app.token_with(&id, &secret, &[]).await;
    let before = remaining(&plain);
    let plain = access_token(plain).await;
    assert_eq!(
        claims(&plain)["aud"],
        app.base.as_str(),
        "the default audience"
    );

    // Not on the list, not a URI, a fragment: refused, nothing counted.
    for bad in [
        "https://evil.example",
        "api.acme.example",
        "https://api.acme.example#x",
    ] {
        let res = app
            .token_with(&id, &secret, &[("resource", API), ("resource", bad)])
            .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_target", "{bad}: {body}");
    }
    let next = app.token_with(&id, &secret, &[("resource", FILES)]).await;
    assert_eq!(
        remaining(&next),
        before - 1,
        "the refused requests took no token"
    );

    // Introspection says who the token is for.
    for (token, aud) in [
        (&one, serde_json::json!(API)),
        (&both, serde_json::json!([API, FILES])),
    ] {
        let res = http_client()
            .post(app.url("/api/v1/token/introspect"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            (&body["active"], &body["aud"]),
            (&serde_json::json!(true), &aud)
        );
    }
}

async fn a_token_for_another_resource_does_not_open_the_portal_s_api(app: TestApp) {
    let (_, id, secret, _) = agent_with_resources(&app).await;
    let bound = access_token(app.token_with(&id, &secret, &[("resource", API)]).await).await;
    let plain = access_token(app.token_with(&id, &secret, &[]).await).await;
    let me = |token: String| {
        let app = &app;
        async move {
            http_client()
                .get(app.url("/api/v1/agents/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(bound).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(plain).await, StatusCode::OK);
}

async fn only_admins_change_resources_and_bad_ones_change_nothing(app: TestApp) {
    let (tenant, id, secret, admin) = agent_with_resources(&app).await;
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let path = format!("/agents/{id}/resources");
    let (status, _) = post(&app, &viewer, &path, &[("resources", "")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let typed = "https://ok.example\nftp://files.example";
    let (status, html) = post(&app, &admin, &path, &[("resources", typed)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let problem = test_id(&html, "error-resources").unwrap();
    assert!(problem.contains("ftp://files.example"), "{problem}");
    assert!(
        html.contains("https://ok.example\nftp://files.example</textarea>"),
        "kept as typed"
    );
    // Nothing changed: the listed resource still works.
    let res = app.token_with(&id, &secret, &[("resource", API)]).await;
    assert_eq!(res.status(), StatusCode::OK);

    // Emptied: back to the default audience only.
    let (status, _) = post(&app, &admin, &path, &[("resources", "")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let res = app.token_with(&id, &secret, &[("resource", API)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn a_parameter_given_twice_is_refused_but_resource_repeats(app: TestApp) {
    let (_, id, secret, _) = agent_with_resources(&app).await;
    let res = app
        .token_with(
            &id,
            &secret,
            &[("scope", "jobs:run"), ("scope", "jobs:run")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("scope"),
        "{body}"
    );
    let res = app
        .token_with(&id, &secret, &[("resource", API), ("resource", API)])
        .await;
    let token = access_token(res).await;
    assert_eq!(
        claims(&token)["aud"],
        API,
        "a repeated resource counts once"
    );

    // The metadata names only what the token endpoint accepts.
    let meta: serde_json::Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert!(meta
        .get("token_endpoint_auth_signing_alg_values_supported")
        .is_none());
}
