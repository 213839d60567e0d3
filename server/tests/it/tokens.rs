//! The token endpoint, the agent API, metering and tier enforcement.

use app::domain::metering::{self, Counts};
use app::domain::{agents, Clock};
use app::model::{AgentStatus, Tier};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{record_past_hour, TestApp};
use crate::on_both_backends;

on_both_backends!(
    TestApp =>
    a_token_verifies_against_the_jwks_alone,
    token_errors_follow_rfc_6749,
    suspended_and_decommissioned_agents_get_invalid_client,
    introspection_and_revocation,
    concurrent_issues_are_counted_exactly,
    admission_is_exact_when_clients_race,
    the_daily_limit_resets_at_utc_midnight,
    an_upgrade_takes_effect_on_the_next_request,
    a_downgrade_from_unlimited_takes_effect_on_the_next_request,
    an_unlimited_tenant_s_new_time_zone_files_the_next_token,
    two_instances_count_an_unlimited_tenant_exactly,
    api_calls_are_counted_and_limited,
    tenants_are_isolated,
    the_agent_limit_counts_live_agents,
);

/// Where `tenant` stands today, as enforcement reads it.
async fn usage_today(app: &TestApp, tenant: &str) -> metering::UsageToday {
    app.meter.settled().await;
    metering::usage_today(&app.db, tenant, app.clock.now())
        .await
        .unwrap()
}

/// Tokens `tenant`'s agents issued, as the analytics rollup per agent and
/// local day has them.
async fn tokens_filed_by_agent_day(app: &TestApp, tenant: &str) -> i64 {
    app.meter.settled().await;
    sqlx::query_scalar(
        "SELECT CAST(SUM(tokens_issued) AS BIGINT) FROM usage_agent_day WHERE tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// Changes `tenant`'s tier behind this instance's back, as another instance
/// or an operator would.
async fn set_tier(app: &TestApp, tenant: &str, tier: &str) {
    sqlx::query("UPDATE tenants SET tier = $1 WHERE id = $2")
        .bind(tier)
        .bind(tenant)
        .execute(&app.db.pool)
        .await
        .unwrap();
}

async fn json(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn access_token(app: &TestApp, id: &str, secret: &str) -> String {
    let res = app.token(id, secret, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    json(res).await["access_token"].as_str().unwrap().to_owned()
}

async fn a_token_verifies_against_the_jwks_alone(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read files:*").await;

    let res = app
        .token(&id, &secret, Some("files:write tokens:read"))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-ratelimit-limit"], "1000");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "999");
    let body = json(res).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["scope"], "files:write tokens:read");

    // Verify with nothing but the published JWKS.
    let jwks: JwkSet = app.get_json("/.well-known/jwks.json").await;
    let token = body["access_token"].as_str().unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("kid published");
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[app.base.as_str()]);
    // The audience defaults to the issuer.
    validation.set_audience(&[app.base.as_str()]);
    let claims: Value =
        jsonwebtoken::decode(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["tenant_id"], tenant.as_str());
    assert_eq!(claims["scope"], "files:write tokens:read");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // The same works with client_secret_post, and the metadata points at it all.
    let res = crate::common::http_client()
        .post(app.url("/api/v1/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let meta: serde_json::Value = app
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(meta["issuer"], app.base.as_str());
    assert_eq!(meta["token_endpoint"], app.url("/api/v1/token").as_str());
    assert_eq!(meta["jwks_uri"], app.url("/.well-known/jwks.json").as_str());

    // The token opens the agent API, and last-token time is recorded.
    let me = crate::common::http_client()
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(me.headers().contains_key("x-ratelimit-reset"));
    let me = json(me).await;
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["last_token_at"], app.clock.now());
}

async fn token_errors_follow_rfc_6749(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let client = crate::common::http_client();
    let post = |form: Vec<(&'static str, String)>| {
        client.post(app.url("/api/v1/token")).form(&form).send()
    };
    type Form = Vec<(&'static str, String)>;
    let cases: Vec<(Form, StatusCode, &str)> = vec![
        (
            vec![("client_id", id.clone()), ("client_secret", secret.clone())],
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password".into()),
                ("client_id", id.clone()),
                ("client_secret", secret.clone()),
            ],
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", id.clone()),
                ("client_secret", "wrong".into()),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", "no-such-agent".into()),
                ("client_secret", secret.clone()),
            ],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials".into())],
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        ),
        (
            vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", id.clone()),
                ("client_secret", secret.clone()),
                ("scope", "tokens:write".into()),
            ],
            StatusCode::BAD_REQUEST,
            "invalid_scope",
        ),
    ];
    for (form, status, error) in cases {
        let res = post(form.clone()).await.unwrap();
        assert_eq!(res.status(), status, "{form:?}");
        if status == StatusCode::UNAUTHORIZED {
            assert!(res.headers().contains_key("www-authenticate"));
        }
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body = json(res).await;
        assert_eq!(body["error"], error, "{form:?}");
        assert!(body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    // Two authentication methods at once, and a JSON body, are invalid requests.
    let both = client
        .post(app.url("/api/v1/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json(both).await["error"], "invalid_request");
    let as_json = client
        .post(app.url("/api/v1/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(as_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json(as_json).await["error"], "invalid_request");
    // Nothing of that was counted as issued.
    let today = usage_today(&app, &tenant).await;
    assert_eq!(today.tokens_issued, 0);
}

async fn suspended_and_decommissioned_agents_get_invalid_client(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let token = access_token(&app, &id, &secret).await;
    app.set_agent_status(&tenant, &id, AgentStatus::Suspended)
        .await
        .unwrap();
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(res).await["error"], "invalid_client");
    // Its tokens stop working too.
    let me = crate::common::http_client()
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    app.set_agent_status(&tenant, &id, AgentStatus::Active)
        .await
        .unwrap();
    assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);
    app.set_agent_status(&tenant, &id, AgentStatus::Decommissioned)
        .await
        .unwrap();
    assert_eq!(
        app.token(&id, &secret, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(app
        .set_agent_status(&tenant, &id, AgentStatus::Active)
        .await
        .is_err());
}

async fn introspection_and_revocation(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let token = access_token(&app, &id, &secret).await;
    let client = crate::common::http_client();
    let introspect = |t: String| {
        client
            .post(app.url("/api/v1/token/introspect"))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", t)])
            .send()
    };
    let active = json(introspect(token.clone()).await.unwrap()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], id.as_str());
    assert_eq!(active["scope"], "tokens:read");
    assert_eq!(
        json(introspect("garbage".into()).await.unwrap()).await["active"],
        false
    );
    // Unauthenticated introspection is refused.
    let anon = client
        .post(app.url("/api/v1/token/introspect"))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);

    let revoked = client
        .post(app.url("/api/v1/token/revoke"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        json(introspect(token.clone()).await.unwrap()).await["active"],
        false
    );
    let me = client
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    // Expired tokens are inactive as well.
    let fresh = access_token(&app, &id, &secret).await;
    app.clock.advance(901);
    assert_eq!(
        json(introspect(fresh).await.unwrap()).await["active"],
        false
    );
}

async fn concurrent_issues_are_counted_exactly(app: TestApp) {
    let tenant = app.tenant("Globex", Tier::Enterprise).await;
    let (a, a_secret) = app.agent(&tenant, "tokens:read").await;
    let (b, b_secret) = app.agent(&tenant, "tokens:read").await;
    let requests = (0..64).map(|i| {
        let (id, secret) = if i % 2 == 0 {
            (&a, &a_secret)
        } else {
            (&b, &b_secret)
        };
        app.token(id, secret, None)
    });
    let results = futures::future::join_all(requests).await;
    assert!(results.iter().all(|r| r.status() == StatusCode::OK));
    assert_eq!(results[0].headers()["x-ratelimit-limit"], "unlimited");
    let today = usage_today(&app, &tenant).await;
    assert_eq!(today.tokens_issued, 64);
    assert_eq!(tokens_filed_by_agent_day(&app, &tenant).await, 64);
}

async fn admission_is_exact_when_clients_race(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    // 990 of the free tier's 1,000 already used today: 10 left.
    let used = Counts {
        tokens_issued: 990,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    let results = futures::future::join_all((0..64).map(|_| app.token(&id, &secret, None))).await;
    let ok = results
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(ok, 10);
    assert_eq!(refused.len(), 54);
    let today = usage_today(&app, &tenant).await;
    assert_eq!((today.tokens_issued, today.refused), (1000, 54));
    let r = refused[0];
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let retry: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = app.clock.now();
    assert_eq!(retry, app::model::tiers::next_utc_midnight(now) - now);
}

async fn the_daily_limit_resets_at_utc_midnight(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    // 23:59:50 UTC, with the day's tokens used up.
    let midnight = app::model::tiers::next_utc_midnight(app.clock.now());
    app.clock.set(midnight - 10);
    let used = Counts {
        tokens_issued: 1000,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "10");
    assert_eq!(
        res.headers()["x-ratelimit-reset"],
        midnight.to_string().as_str()
    );
    let body = json(res).await;
    assert_eq!(body["error"], "rate_limit_exceeded");
    assert_eq!(body["limit"], "token_issuances_per_day");
    assert_eq!(body["limit_value"], 1000);
    assert!(body["upgrade_url"]
        .as_str()
        .unwrap()
        .ends_with("/settings/tier"));
    app.clock.set(midnight);
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-ratelimit-remaining"], "999");
}

async fn an_upgrade_takes_effect_on_the_next_request(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let used = Counts {
        tokens_issued: 1000,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    assert_eq!(
        app.token(&id, &secret, None).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    set_tier(&app, &tenant, "pro").await;
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-ratelimit-limit"], "50000");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "48999");
}

// The writer remembers which tenants are unlimited and writes their usage
// without reading the counters first (PostgreSQL): a downgrade must still
// count against the limit from the next request on.
async fn a_downgrade_from_unlimited_takes_effect_on_the_next_request(app: TestApp) {
    let tenant = app.tenant("Globex", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    for _ in 0..3 {
        let res = app.token(&id, &secret, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-ratelimit-limit"], "unlimited");
    }
    let used = Counts {
        tokens_issued: 997,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    set_tier(&app, &tenant, "free").await;
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["x-ratelimit-limit"], "1000");
    let today = usage_today(&app, &tenant).await;
    assert_eq!((today.tokens_issued, today.refused), (1000, 1));
    // And back: unlimited again from the next request.
    set_tier(&app, &tenant, "enterprise").await;
    for _ in 0..2 {
        let res = app.token(&id, &secret, None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-ratelimit-limit"], "unlimited");
    }
    let today = usage_today(&app, &tenant).await;
    assert_eq!((today.tokens_issued, today.refused), (1002, 1));
}

// Analytics files a token on the tenant's local date: a new time zone
// applies from the next token, however the writer got to know the tenant.
async fn an_unlimited_tenant_s_new_time_zone_files_the_next_token(app: TestApp) {
    let tenant = app.tenant("Globex", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    // 23:30 UTC: still the same date in UTC, already the next one at UTC+14.
    let midnight = app::model::tiers::next_utc_midnight(app.clock.now());
    app.clock.set(midnight - 1800);
    for _ in 0..2 {
        assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);
    }
    app.set_time_zone(&tenant, "Pacific/Kiritimati").await;
    assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);
    let days: Vec<(String, i64)> = sqlx::query_as(
        "SELECT local_date, CAST(tokens_issued AS BIGINT) FROM usage_agent_day \
         WHERE agent_id = $1 ORDER BY local_date",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let utc_date =
        |at: i64| app::domain::time_zones::local_date(at, &jiff::tz::TimeZone::UTC).to_string();
    assert_eq!(
        days,
        [
            (utc_date(midnight - 1800), 2),
            (utc_date(midnight + 1800), 1)
        ]
    );
}

// One instance already knows the tenant is unlimited (and writes without
// locking first), the other does not yet: racing, neither waits for the
// other forever nor fails, and every request is counted once.
async fn two_instances_count_an_unlimited_tenant_exactly(app: TestApp) {
    let tenant = app.tenant("Globex", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);
    let clock: app::domain::clock::SharedClock = app.clock.clone();
    let other = metering::Meter::start(app.other_instance_db().await, clock);
    let here = (0..100).map(|_| async {
        let res = app.token(&id, &secret, None).await;
        assert_eq!(res.status(), StatusCode::OK);
    });
    let there = (0..100).map(|_| async {
        let admission = other
            .admit(&tenant, &id, metering::UsageKind::TokenIssued)
            .await
            .unwrap();
        assert!(matches!(admission, metering::Admission::Admitted(_)));
    });
    futures::future::join(
        futures::future::join_all(here),
        futures::future::join_all(there),
    )
    .await;
    let today = usage_today(&app, &tenant).await;
    assert_eq!(today.tokens_issued, 201);
    assert_eq!(tokens_filed_by_agent_day(&app, &tenant).await, 201);
}

async fn api_calls_are_counted_and_limited(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let token = access_token(&app, &id, &secret).await;
    let client = crate::common::http_client();
    for expected_remaining in ["999", "998"] {
        let res = client
            .get(app.url("/api/v1/agents/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["x-ratelimit-remaining"], expected_remaining);
    }
    let used = Counts {
        api_calls: 998,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    let res = client
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json(res).await["limit"], "api_calls_per_day");
    let missing = client
        .get(app.url("/api/v1/agents/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let today = usage_today(&app, &tenant).await;
    assert_eq!((today.api_calls, today.refused), (1000, 1));
}

async fn tenants_are_isolated(app: TestApp) {
    let a = app.tenant("Tenant A", Tier::Free).await;
    let b = app.tenant("Tenant B", Tier::Free).await;
    let (a_id, a_secret) = app.agent(&a, "tokens:read").await;
    let (b_id, b_secret) = app.agent(&b, "tokens:read").await;
    let b_token = access_token(&app, &b_id, &b_secret).await;
    // A cannot learn anything about B's token, nor revoke it.
    let client = crate::common::http_client();
    let seen = client
        .post(app.url("/api/v1/token/introspect"))
        .basic_auth(&a_id, Some(&a_secret))
        .form(&[("token", &b_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(json(seen).await, serde_json::json!({"active": false}));
    client
        .post(app.url("/api/v1/token/revoke"))
        .basic_auth(&a_id, Some(&a_secret))
        .form(&[("token", &b_token)])
        .send()
        .await
        .unwrap();
    let me = client
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(&b_token)
        .send()
        .await
        .unwrap();
    assert_eq!(json(me).await["id"], b_id.as_str());
    // Domain lookups are scoped by tenant.
    assert!(agents::get(&app.db, &a, &b_id).await.is_err());
    assert!(app
        .set_agent_status(&a, &b_id, AgentStatus::Suspended)
        .await
        .is_err());
    // B's usage is B's alone.
    let a_today = usage_today(&app, &a).await;
    assert_eq!(a_today.tokens_issued, 0);
}

async fn the_agent_limit_counts_live_agents(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(app.agent(&tenant, "tokens:read").await.0);
    }
    let keys = app.keys.get();
    let new = || agents::NewAgent {
        name: "one too many".into(),
        agent_type: "assistant".into(),
        version: "1".into(),
        capabilities: vec!["tokens:read".into()],
        owner: "tests".into(),
        environment: "staging".into(),
        secret_expires: String::new(),
        resources: String::new(),
    };
    let err = agents::create(
        &app.db,
        &keys,
        &tenant,
        new(),
        app.clock.now(),
        &app::domain::audit::By::operator(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The Free tier allows 10 live agents; decommission one or upgrade your plan."
    );
    // Suspended agents still count; decommissioned ones do not.
    app.set_agent_status(&tenant, &ids[0], AgentStatus::Suspended)
        .await
        .unwrap();
    assert!(agents::create(
        &app.db,
        &keys,
        &tenant,
        new(),
        app.clock.now(),
        &app::domain::audit::By::operator()
    )
    .await
    .is_err());
    app.set_agent_status(&tenant, &ids[1], AgentStatus::Decommissioned)
        .await
        .unwrap();
    assert!(agents::create(
        &app.db,
        &keys,
        &tenant,
        new(),
        app.clock.now(),
        &app::domain::audit::By::operator()
    )
    .await
    .is_ok());
}
