//! Attacks on the running portal, one test per protection, each named after
//! what it stops. Every case runs on SQLite and on PostgreSQL.

use futures::future::join_all;
use reqwest::StatusCode;

use app::domain::agents;
use app::domain::sign_in::{PER_CLIENT, PER_EMAIL_AND_CLIENT};
use app::domain::Clock;
use app::model::{AgentStatus, Role, Tier};

use crate::common::{spawn_serve, TestApp, TestDb, PASSWORD};
use crate::on_both_backends;
use crate::signup::get;

on_both_backends!(
    TestApp =>
    parallel_guesses_get_no_more_password_checks_than_allowed,
    forwarded_headers_are_ignored_unless_a_proxy_is_trusted,
    posts_without_our_origin_are_refused,
    internal_errors_show_an_id_not_their_text,
    absurd_page_numbers_are_not_errors,
    a_token_without_analytics_read_cannot_read_analytics,
    a_wildcard_capability_covers_only_its_own_resource,
    a_suspension_is_never_undone_by_a_racing_token_request,
    decommissioning_is_final_whatever_races_it,
    a_downgraded_tenant_over_its_agent_limit_registers_none,
    a_removed_or_demoted_member_loses_access_on_the_next_request,
    oversized_bodies_get_a_clear_413,
    an_idle_session_expires_from_its_last_request_not_from_sign_in,
    a_session_ends_thirty_days_after_sign_in_however_busy,
    a_copy_of_the_session_table_signs_nobody_in,
    password_changes_are_throttled_and_others_still_sign_in,
    a_password_change_gives_the_session_a_new_id,
    a_stranger_s_attempts_are_not_in_the_trail_as_the_member_s,
    an_address_with_a_second_recipient_in_it_is_refused,
    a_throttled_client_writes_no_row_per_new_address,
    a_token_that_claims_a_long_life_is_refused,
    server_functions_answer_bad_arguments_with_a_400_that_names_no_internals,
    only_the_page_s_own_scripts_may_run,
);

on_both_backends!(
    TestDb =>
    secure_cookies_and_hsts_follow_the_public_url,
    a_rotated_key_keeps_old_tokens_valid_until_they_expire,
    a_copy_of_the_database_alone_holds_no_usable_key,
    a_stranger_cannot_lock_out_a_known_admin,
    a_flood_of_sign_ins_is_bounded_and_other_pages_answer,
    a_client_behind_the_proxy_cannot_pick_its_own_address,
    made_up_methods_and_paths_do_not_grow_the_metrics,
    a_signing_key_planted_in_the_clear_is_refused,
    trusted_proxies_without_their_header_named_do_not_start,
);

async fn agent_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM agents")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn parallel_guesses_get_no_more_password_checks_than_allowed(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let client = app.client();
    let guesses = (0..100).map(|i| {
        let client = client.clone();
        let url = app.url("/login");
        async move {
            client
                .post(url)
                .form(&[
                    ("email", "ada@acme.example"),
                    ("password", &format!("guess {i}")),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked as i64, PER_EMAIL_AND_CLIENT, "{statuses:?}");
    assert_eq!(checked + throttled, 100, "{statuses:?}");
}

async fn forwarded_headers_are_ignored_unless_a_proxy_is_trusted(app: TestApp) {
    // This server trusts no proxy: a client cannot pick a new address per
    // guess to escape the per-client limit.
    let client = app.client();
    let mut last = StatusCode::OK;
    for i in 0..=PER_CLIENT {
        last = client
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .header("forwarded", format!("for=198.51.100.{i}"))
            .form(&[
                ("email", format!("guess{i}@acme.example").as_str()),
                ("password", "nope"),
            ])
            .send()
            .await
            .unwrap()
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

async fn posts_without_our_origin_are_refused(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let member = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    // The signed-in client's cookie with another origin, or none at all.
    let cookie_only = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = {
        let res = app
            .sign_in(&app.client(), "ada@acme.example", PASSWORD, "/")
            .await;
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    for path in [
        "/agents",
        "/analytics/time-zone",
        "/api/tiers/upgrade",
        "/logout",
    ] {
        let none = cookie_only
            .post(app.url(path))
            .header("cookie", &cookie)
            .form(&[("time_zone", "Asia/Tokyo"), ("name", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), StatusCode::FORBIDDEN, "no Origin: {path}");
        for origin in ["https://evil.example", "http://127.0.0.1:1", "null"] {
            let res = member
                .post(app.url(path))
                .header("origin", origin)
                .form(&[("time_zone", "Asia/Tokyo"), ("name", "x")])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin} {path}");
        }
    }
    // Nothing changed.
    let zone: String = sqlx::query_scalar("SELECT time_zone FROM tenants WHERE id = $1")
        .bind(&tenant)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(zone, "UTC");
    assert_eq!(agent_count(&app).await, 0, "nothing was created");
}

async fn internal_errors_show_an_id_not_their_text(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    // Break the database under the running server.
    sqlx::query("DROP TABLE usage_tenant_quarter")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let page = client.get(app.url("/analytics")).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("error id"), "{html}");
    for leak in [
        "usage_tenant_quarter",
        "no such table",
        "does not exist",
        "SELECT",
    ] {
        assert!(!html.contains(leak), "{leak} leaked: {html}");
    }
    let csv = client
        .get(app.url("/analytics/export/daily.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = csv.json().await.unwrap();
    assert_eq!(body["error"], "internal_error");
    let id = body["error_id"].as_str().unwrap();
    assert!(body["message"].as_str().unwrap().contains(id));
    assert!(!body.to_string().contains("usage_tenant_quarter"));
}

async fn absurd_page_numbers_are_not_errors(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    for query in [
        "page=1000000000000000000",
        "page=18446744073709551615",
        "page=99999999999999999999999",
        "page=-1",
        "days=4294967297",
        "days=99999999999999999999",
    ] {
        let res = client
            .get(app.url(&format!("/analytics?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{query}");
    }
}

/// Two clients behind a trusted proxy: the stranger's guesses lock only the
/// stranger out.
async fn a_stranger_cannot_lock_out_a_known_admin(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Free).await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let stranger = app.client();
    for _ in 0..PER_EMAIL_AND_CLIENT + 3 {
        stranger
            .post(app.url("/login"))
            .header("x-forwarded-for", "203.0.113.66")
            .form(&[("email", "ada@acme.example"), ("password", "wrong guess")])
            .send()
            .await
            .unwrap();
    }
    let refused = stranger
        .post(app.url("/login"))
        .header("x-forwarded-for", "203.0.113.66")
        .form(&[("email", "ada@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let ada = app.client();
    let res = ada
        .post(app.url("/login"))
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[("email", "ada@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the admin still gets in"
    );
}

/// 500 sign-ins at once, each from its own (forwarded) address with a
/// random e-mail, so no throttle spares the password hashing: the real
/// binary's memory stays bounded and other pages keep answering.
async fn a_flood_of_sign_ins_is_bounded_and_other_pages_answer(db: TestDb) {
    let (mut child, base, up) = spawn_serve(
        &db,
        &[
            ("TRUSTED_PROXIES", "127.0.0.1/32"),
            ("CLIENT_IP_HEADER", "x-forwarded-for"),
        ],
        &[],
    )
    .await;
    assert!(up);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let flood = (0..500).map(|i| {
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/login"))
                .header("origin", &base)
                .header(
                    "x-forwarded-for",
                    format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                )
                .form(&[
                    ("email", format!("nobody{i}@example.com").as_str()),
                    ("password", "guess"),
                ])
                .send()
                .await
                .map(|r| (r.status(), r.headers().contains_key("retry-after")))
        }
    });
    let probe = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        let res = client.get(format!("{base}/login")).send().await.unwrap();
        (res.status(), started.elapsed())
    };
    let (answers, (probe_status, probe_time)) = tokio::join!(join_all(flood), probe);
    let peak_kib = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let mut checked = 0;
    let mut busy = 0;
    for answer in &answers {
        match answer {
            Ok((StatusCode::UNAUTHORIZED, _)) => checked += 1,
            Ok((StatusCode::SERVICE_UNAVAILABLE, true)) => busy += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(checked > 0 && busy > 0, "{checked} checked, {busy} busy");
    assert_eq!(probe_status, StatusCode::OK);
    assert!(
        probe_time.as_secs() < 5,
        "the sign-in page took {probe_time:?}"
    );
    assert!(peak_kib < 300 * 1024, "peak resident set {peak_kib} KiB");
}

async fn a_token_without_analytics_read_cannot_read_analytics(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (files, files_secret) = app.agent(&tenant, "files:read").await;
    let (reader, reader_secret) = app.agent(&tenant, "files:read analytics:*").await;
    let bearer = |id: String, secret: String| {
        let app = &app;
        async move {
            let res = app.token(&id, &secret, None).await;
            let body: serde_json::Value = res.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let files_token = bearer(files, files_secret).await;
    let reader_token = bearer(reader, reader_secret).await;
    for path in ["tokens?days=7", "activity?days=7", "agents"] {
        let url = app.url(&format!("/api/v1/analytics/{path}"));
        let refused = crate::common::http_client()
            .get(&url)
            .bearer_auth(&files_token)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{path}");
        let challenge = refused.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(challenge.contains("insufficient_scope") && challenge.contains("analytics:read"));
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "insufficient_scope");
        let allowed = crate::common::http_client()
            .get(&url)
            .bearer_auth(&reader_token)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), StatusCode::OK, "{path}");
    }
    // The agent's own record needs no scope.
    let me = crate::common::http_client()
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(&files_token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

async fn a_wildcard_capability_covers_only_its_own_resource(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "files:*").await;
    for (scope, expected) in [
        ("files:read", StatusCode::OK),
        ("files:*", StatusCode::OK),
        ("files:x:admin", StatusCode::BAD_REQUEST),
        ("filesx:read", StatusCode::BAD_REQUEST),
        ("analytics:read", StatusCode::BAD_REQUEST),
        ("FILES:READ", StatusCode::BAD_REQUEST),
    ] {
        let res = app.token(&id, &secret, Some(scope)).await;
        assert_eq!(res.status(), expected, "{scope}");
        if expected == StatusCode::BAD_REQUEST {
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "invalid_scope", "{scope}");
        }
    }
    // Registering a malformed capability is refused too.
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let res = client
        .post(app.url("/agents"))
        .form(&[
            ("name", "bad"),
            ("agent_type", "x"),
            ("version", "1"),
            ("owner", "o"),
            ("environment", "production"),
            ("capabilities", "files:x:admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// Token requests in flight while the agent is suspended must not put the
/// active agent back into the token endpoint's cache.
async fn a_suspension_is_never_undone_by_a_racing_token_request(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Enterprise).await;
    for round in 0..10 {
        let (id, secret) = app.agent(&tenant, "files:read").await;
        let racing = join_all((0..16).map(|_| app.token(&id, &secret, None)));
        let suspend = async {
            tokio::task::yield_now().await;
            app.set_agent_status(&tenant, &id, AgentStatus::Suspended)
                .await
                .unwrap();
        };
        tokio::join!(racing, suspend);
        for _ in 0..3 {
            let after = app.token(&id, &secret, None).await;
            assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
    }
}

async fn decommissioning_is_final_whatever_races_it(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Enterprise).await;
    for _ in 0..5 {
        let (id, secret) = app.agent(&tenant, "files:read").await;
        app.set_agent_status(&tenant, &id, AgentStatus::Suspended)
            .await
            .unwrap();
        let race = (0..20).map(|i| {
            let status = if i % 2 == 0 {
                AgentStatus::Active
            } else {
                AgentStatus::Decommissioned
            };
            let (app, tenant, id) = (&app, &tenant, &id);
            async move { app.set_agent_status(tenant, id, status).await }
        });
        join_all(race).await;
        let agent = agents::get(&app.db, &tenant, &id).await.unwrap();
        assert_eq!(agent.status, AgentStatus::Decommissioned);
        assert!(app
            .set_agent_status(&tenant, &id, AgentStatus::Active)
            .await
            .is_err());
        assert_eq!(
            app.token(&id, &secret, None).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

async fn a_downgraded_tenant_over_its_agent_limit_registers_none(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let mut kept = Vec::new();
    for _ in 0..12 {
        kept.push(app.agent(&tenant, "files:read").await);
    }
    sqlx::query("UPDATE tenants SET tier = 'free' WHERE id = $1")
        .bind(&tenant)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let tier = get(&app, &client, "/settings/tier").await.1;
    assert!(tier.contains("12 of 10"), "{tier}");
    let list = get(&app, &client, "/agents").await.1;
    assert!(list.contains("2 more than your tier allows"), "{list}");
    let res = client
        .post(app.url("/agents"))
        .form(&[
            ("name", "thirteenth"),
            ("agent_type", "x"),
            ("version", "1"),
            ("owner", "o"),
            ("environment", "production"),
            ("capabilities", "files:read"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // The agents it has keep working.
    let (id, secret) = &kept[11];
    assert_eq!(app.token(id, secret, None).await.status(), StatusCode::OK);
}

async fn a_removed_or_demoted_member_loses_access_on_the_next_request(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    sqlx::query("UPDATE members SET role = 'viewer' WHERE email = 'ada@acme.example'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let res = admin
        .post(app.url("/analytics/time-zone"))
        .form(&[("time_zone", "Asia/Tokyo")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "demoted");
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    sqlx::query("DELETE FROM members WHERE email = 'val@acme.example'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let res = viewer.get(app.url("/analytics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "removed");
    assert!(crate::common::location(&res).starts_with("/login"));
}

async fn oversized_bodies_get_a_clear_413(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    // Just over each route's ceiling (64 KiB forms, 16 KiB agent API,
    // 512 KiB webhook).
    let over = |kib: usize| "x".repeat((kib + 1) * 1024);
    let mut answered = 0;
    for (path, body) in [
        ("/agents", format!("name={}", over(64))),
        ("/analytics/time-zone", format!("time_zone={}", over(64))),
        ("/login", format!("email={}&password=x", over(64))),
        (
            "/api/v1/token",
            format!("grant_type=client_credentials&scope={}", over(16)),
        ),
        (
            "/api/stripe/webhook",
            format!("{{\"id\": \"{}\"}}", over(512)),
        ),
    ] {
        let sent = client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        // The server answers before reading the body and closes the
        // connection; a client still writing may see that as an error.
        let Ok(res) = sent else { continue };
        answered += 1;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let answer: serde_json::Value = res.json().await.unwrap();
        assert_eq!(answer["error"], "payload_too_large", "{path}");
        assert!(answer["message"].as_str().unwrap().contains("KiB"));
    }
    assert!(answered >= 1, "no refusal was read");
    assert_eq!(agent_count(&app).await, 0, "nothing was created");
}

async fn an_idle_session_expires_from_its_last_request_not_from_sign_in(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let idle = 720 * 60;
    // Active every 11 hours: a day and a half later, still signed in.
    for _ in 0..3 {
        app.clock.advance(11 * 3600);
        let res = client.get(app.url("/agents")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Then idle for longer than the limit.
    app.clock.advance(idle + 1);
    let res = client.get(app.url("/agents")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(crate::common::location(&res).starts_with("/login"));
    // And it stays ended.
    let res = client.get(app.url("/agents")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// The server keys are sealed with the master key, which stays out of the
/// database; the SQLite files and the key file are the owner's alone.
async fn a_copy_of_the_database_alone_holds_no_usable_key(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let key_file = db.key_file();
    let url = db.url.clone();
    let app = TestApp::start_on(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "files:read").await;
    assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT kid, secret FROM server_keys")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(stored.len() >= 2);
    for (kid, secret) in &stored {
        assert!(
            secret.starts_with("sealed-v1:"),
            "{kid} is stored in the clear"
        );
    }
    let mode = |path: &str| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600, "key file");
    if let Some(path) = url.strip_prefix("sqlite://") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            assert_eq!(mode(&file), 0o600, "{file}");
        }
    }
    // Another master key opens nothing: the portal refuses to start.
    let mut config = server::config::Config::for_database(&url);
    config.master_key = Some(app::domain::keys::MasterKey::generate().to_base64());
    let clock = std::sync::Arc::new(app::domain::SystemClock);
    let refused = server::startup::build(config, clock, None, server::startup::Metering::On).await;
    let error = format!(
        "{:#}",
        refused.err().expect("a wrong master key is refused")
    );
    assert!(error.contains("master key"), "{error}");
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: serde_json::Value = app.get_json("/.well-known/jwks.json").await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn access_token(app: &TestApp, id: &str, secret: &str) -> String {
    let res = app.token(id, secret, None).await;
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// `portal keys rotate` (here: the same domain call) on a running portal:
/// within its refresh period new tokens carry the new kid, old tokens still
/// verify from the JWKS and work; once they have all expired the old key
/// is retired by itself.
async fn a_rotated_key_keeps_old_tokens_valid_until_they_expire(db: TestDb) {
    let app = TestApp::start_configured(db, |c| c.keys_refresh_seconds = 1).await;
    let tenant = app.tenant("Acme", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "files:read").await;
    let old_token = access_token(&app, &id, &secret).await;
    let old_kid = kid_of(&old_token);
    let master =
        app::domain::keys::MasterKey::parse(&std::fs::read_to_string(app.key_file()).unwrap())
            .unwrap();
    let new_kid = app::domain::keys::rotate(&app.db, &master, app.clock.now())
        .await
        .unwrap();
    let mut published = Vec::new();
    for _ in 0..50 {
        published = jwks_kids(&app).await;
        if published.first() == Some(&new_kid) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(published, vec![new_kid.clone(), old_kid.clone()]);
    let new_token = access_token(&app, &id, &secret).await;
    assert_eq!(kid_of(&new_token), new_kid);
    for token in [&old_token, &new_token] {
        let me = crate::common::http_client()
            .get(app.url("/api/v1/agents/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    // Every token the old key signed has expired: it leaves the JWKS.
    app.clock.advance(app::domain::tokens::TOKEN_TTL_SECS + 120);
    for _ in 0..50 {
        published = jwks_kids(&app).await;
        if published.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(published, vec![new_kid]);
}

/// Behind TLS the portal listens on loopback; PUBLIC_URL's scheme decides.
async fn secure_cookies_and_hsts_follow_the_public_url(db: TestDb) {
    let app = TestApp::start_configured(db, |c| {
        c.public_url = Some("https://portal.example".into());
    })
    .await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let page = app.client().get(app.url("/login")).send().await.unwrap();
    let hsts = page.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(hsts.contains("max-age="), "{hsts}");
    let res = app
        .client()
        .post(app.url("/login"))
        .header("origin", "https://portal.example")
        .form(&[("email", "ada@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The loopback address it listens on is not its origin.
    let res = app
        .client()
        .post(app.url("/login"))
        .form(&[("email", "ada@acme.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Behind a trusted proxy that appends to `X-Forwarded-For`, a client sends
/// its own `Forwarded` header and garbage before the proxy's entry, a new
/// address each guess: the per-client limit still counts it as one client.
async fn a_client_behind_the_proxy_cannot_pick_its_own_address(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let client = app.client();
    let mut statuses = Vec::new();
    for i in 0..=PER_CLIENT {
        let res = client
            .post(app.url("/login"))
            .header("forwarded", format!("for=198.51.100.{i}"))
            // What the client sent, then what the proxy appended.
            .header(
                "x-forwarded-for",
                format!("192.0.2.{i}, not-an-address, 203.0.113.66"),
            )
            .form(&[
                ("email", format!("guess{i}@acme.example").as_str()),
                ("password", "nope"),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // Another client of the same proxy is not affected.
    let other = app
        .client()
        .post(app.url("/login"))
        .header("x-forwarded-for", "198.51.100.200")
        .form(&[("email", "someone@acme.example"), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}

/// Requests with made-up methods (long ones) on made-up paths, as a
/// stranger can send them: `/metrics` keeps its closed set of labels, so
/// nothing the stranger chose is kept by the process.
async fn made_up_methods_and_paths_do_not_grow_the_metrics(db: TestDb) {
    let app = TestApp::start_configured(db, |c| {
        c.metrics_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let client = crate::common::http_client();
    let junk = "M".repeat(4_000);
    for i in 0..200 {
        let method = reqwest::Method::from_bytes(format!("{junk}{i}").as_bytes()).unwrap();
        let res = client
            .request(method, app.url(&format!("/{junk}/{i}")))
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let scrape = app.metrics().await;
    assert!(!scrape.contains(&junk[..64]), "a made-up label was kept");
    let other: f64 = scrape
        .lines()
        .filter(|l| l.starts_with("portal_http_requests_total{") && l.contains("method=\"other\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(other >= 200.0, "made-up methods are counted as `other`");
    assert!(scrape.contains("portal_metrics_series_dropped_total"));
}

async fn a_session_ends_thirty_days_after_sign_in_however_busy(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    // Busy every 10 hours, so never idle: 30 days on, still signed in.
    for _ in 0..(30 * 24 / 10) {
        app.clock.advance(10 * 3600);
        let res = client.get(app.url("/agents")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    // A second past it, a second after its last request.
    app.clock.advance(1);
    let res = client.get(app.url("/agents")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(crate::common::location(&res).starts_with("/login"));
}

/// The session cookie's value, from a sign-in's answer.
fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("portal_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned()
}

/// What a copy of the database (a backup, a dump) holds of sessions opens
/// none of them: only hashes of their ids are stored.
async fn a_copy_of_the_session_table_signs_nobody_in(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let res = app
        .sign_in(&app.client(), "ada@acme.example", PASSWORD, "/")
        .await;
    let cookie = session_cookie(&res);
    // Where each backend's session store keeps them.
    let table = match app.db.backend {
        app::domain::db::Backend::Sqlite => "tower_sessions",
        app::domain::db::Backend::Postgres => "tower_sessions.session",
    };
    let stored: Vec<String> = sqlx::query_scalar(&format!("SELECT id FROM {table}"))
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(!stored.contains(&cookie), "the session id is stored as is");
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with = |id: &str| {
        bare.get(app.url("/settings/account"))
            .header("cookie", format!("portal_session={id}"))
            .send()
    };
    for id in &stored {
        let res = with(id).await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "a stored id opened it");
    }
    // The cookie itself still does.
    assert_eq!(with(&cookie).await.unwrap().status(), StatusCode::OK);
}

/// One member hammering the password form with guesses at the current
/// password: past a few, each is refused before any password check, and
/// another member's sign-in meanwhile is answered, not told to come back.
async fn password_changes_are_throttled_and_others_still_sign_in(app: TestApp) {
    use app::domain::account::PASSWORD_CHANGES;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let mallory = app
        .signed_in(&tenant, "mallory@acme.example", Role::Viewer)
        .await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let guesses = (0..40).map(|i| {
        let mallory = mallory.clone();
        let url = app.url("/settings/account/password");
        async move {
            mallory
                .post(url)
                .form(&[
                    ("current_password", format!("guess {i}")),
                    ("password", "a brand new passphrase 2026".to_owned()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let ada = async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        app.sign_in(&app.client(), "ada@acme.example", PASSWORD, "/")
            .await
            .status()
    };
    let (statuses, ada) = tokio::join!(join_all(guesses), ada);
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(throttled as i64, 40 - PASSWORD_CHANGES, "{statuses:?}");
    assert_eq!(ada, StatusCode::SEE_OTHER, "the owner signs in");
}

/// After a password change the session goes on under a new id: an id read
/// before the change (over a shoulder, from a log) is worth nothing.
async fn a_password_change_gives_the_session_a_new_id(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    let client = app.client();
    let res = app
        .sign_in(&client, "ada@acme.example", PASSWORD, "/")
        .await;
    let before = session_cookie(&res);
    let res = client
        .post(app.url("/settings/account/password"))
        .form(&[
            ("current_password", PASSWORD),
            ("password", "a brand new passphrase 2026"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let after = session_cookie(&res);
    assert_ne!(before, after);
    let old = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/settings/account"))
        .header("cookie", format!("portal_session={before}"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    let res = client
        .get(app.url("/settings/account"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the session lives on");
}

/// A stranger's failed sign-in and reset request at a member's address are
/// recorded as unauthenticated attempts, not as the member's doing.
async fn a_stranger_s_attempts_are_not_in_the_trail_as_the_member_s(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    app.sign_in(&app.client(), "ada@acme.example", "a wrong guess", "/")
        .await;
    app.client()
        .post(app.url("/forgot-password"))
        .form(&[("email", "ada@acme.example")])
        .send()
        .await
        .unwrap();
    app.mail.wait_for("ada@acme.example", 1).await;
    let entries: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT action, actor_kind, actor, object FROM audit_log \
         WHERE action IN ('member.sign_in_failed', 'member.password_reset_requested') ORDER BY id",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (action, kind, actor, object) in &entries {
        assert_eq!(kind, "unauthenticated", "{action}");
        assert_ne!(actor, "ada@acme.example", "{action}");
        assert_eq!(object, "ada@acme.example", "{action}: the address typed");
    }
    let page = owner
        .get(app.url("/settings/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Unauthenticated attempt"));
}

/// An address a mailer would read with a display name (and send to the
/// address inside) is refused at sign-up and at invitation: nobody is mailed.
async fn an_address_with_a_second_recipient_in_it_is_refused(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    for email in ["x<victim@example.com>", "a@example.com, victim@example.com"] {
        let res = app
            .client()
            .post(app.url("/signup"))
            .form(&[
                ("organisation", "Lure Ltd"),
                ("email", email),
                ("password", "a long and unusual passphrase 42"),
            ])
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error(),
            "sign-up {email}: {}",
            res.status()
        );
        let res = owner
            .post(app.url("/settings/team/invite"))
            .form(&[("email", email), ("role", "viewer")])
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_client_error(),
            "invite {email}: {}",
            res.status()
        );
    }
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(app.mail.to("victim@example.com").is_empty());
}

/// Once a client is refused, more guesses at new addresses write nothing:
/// the counters cannot be grown by the one who is throttled.
async fn a_throttled_client_writes_no_row_per_new_address(app: TestApp) {
    let client = app.client();
    for i in 0..PER_CLIENT {
        app.sign_in(&client, &format!("guess{i}@acme.example"), "nope", "/")
            .await;
    }
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sign_in_counters")
            .fetch_one(&app.db.pool)
            .await
            .unwrap()
    };
    let before = count().await;
    for i in 0..50 {
        let res = app
            .sign_in(&client, &format!("more{i}@acme.example"), "nope", "/")
            .await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(count().await, before);
}

/// A token signed with the portal's own key but claiming to live for years
/// (a leaked key, a bug) is refused: this portal's tokens live 15 minutes.
async fn a_token_that_claims_a_long_life_is_refused(app: TestApp) {
    use app::domain::tokens::Claims;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "files:read").await;
    let issued: serde_json::Value = app.token(&id, &secret, None).await.json().await.unwrap();
    let real = issued["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(real).unwrap();
    let mut claims: Claims = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            real.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let me = |token: String| {
        let url = app.url("/api/v1/agents/me");
        async move {
            crate::common::http_client()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(real.to_owned()).await, StatusCode::OK);
    let keys = app.keys.get();
    let key = keys.by_kid(header.kid.as_deref().unwrap()).unwrap();
    claims.exp = claims.iat + 10 * 365 * 24 * 3600;
    assert_eq!(
        me(key.sign_jwt(&claims).unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    claims.iat = app.clock.now() + 3600;
    claims.exp = claims.iat + 600;
    assert_eq!(
        me(key.sign_jwt(&claims).unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

/// A signing key written into the database in the clear (by whoever could
/// write there, to sign tokens of their own) stops the portal from
/// starting, with the reason, instead of being adopted and sealed.
async fn a_signing_key_planted_in_the_clear_is_refused(db: TestDb) {
    let app = TestApp::start_on(db).await;
    let planted =
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [7u8; 32]);
    sqlx::query(
        "INSERT INTO server_keys (kid, purpose, algorithm, secret, public_key, created_at) \
         VALUES ('ed25519-planted', 'token_signing', 'EdDSA', $1, 'x', $2)",
    )
    .bind(&planted)
    .bind(app.clock.now() + 10)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let db = app.stop();
    let (mut child, _, up) = spawn_serve(&db, &[], &[]).await;
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(!up, "the portal started with a planted key");
    assert!(!status.success());
    let stored: String =
        sqlx::query_scalar("SELECT secret FROM server_keys WHERE kid = 'ed25519-planted'")
            .fetch_one(&app::domain::Db::connect(&db.url).await.unwrap().pool)
            .await
            .unwrap();
    assert_eq!(stored, planted, "never sealed as if it were ours");
    // A genuine key of a database from before sealing: the operator vouches
    // for it with `portal keys seal`, and the portal starts.
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["keys", "seal"])
        .env("DATABASE_URL", &db.url)
        .env("PORTAL_MASTER_KEY_FILE", db.key_file())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("ed25519-planted  token_signing"));
    let sealed = std::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["keys", "seal", "--kid", "ed25519-planted"])
        .env("DATABASE_URL", &db.url)
        .env("PORTAL_MASTER_KEY_FILE", db.key_file())
        .output()
        .unwrap();
    assert!(sealed.status.success(), "{sealed:?}");
    assert_eq!(
        String::from_utf8_lossy(&sealed.stdout).trim(),
        "ed25519-planted"
    );
    let (mut child, _, up) = spawn_serve(&db, &[], &[]).await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(up, "starts once the operator sealed the key");
}

/// A signed-in member's server function call with arguments that do not
/// parse: 400 with a fixed message, never a 500 with the deserializer's
/// words (which name our types and fields).
async fn server_functions_answer_bad_arguments_with_a_400_that_names_no_internals(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    use app::server_fns::agents::{AgentDetail, AgentsOverview};
    use leptos::server_fn::ServerFn;
    for (path, body) in [
        (AgentsOverview::PATH, "q=x"),
        (AgentsOverview::PATH, "%ZZ=%%"),
        (AgentDetail::PATH, ""),
    ] {
        let res = owner
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}: {text}");
        assert!(
            !text.contains("missing field") && !text.contains("invalid type"),
            "{path} {body:?}: {text}"
        );
    }
}

/// The `script-src` of a policy, and the nonce it allows (if any).
fn script_src(policy: &str) -> (String, Option<String>) {
    let src = policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix("script-src "))
        .unwrap_or_default()
        .to_owned();
    let nonce = src
        .split_whitespace()
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .map(str::to_owned);
    (src, nonce)
}

/// Every answer's policy forbids inline scripts but the ones the page wrote
/// itself, named by a nonce drawn for that answer: a script injected into a
/// page (a name, a label) would not run.
async fn only_the_page_s_own_scripts_may_run(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let mut nonces = std::collections::HashSet::new();
    for (client, path) in [
        (app.client(), "/login"),
        (app.client(), "/signup"),
        (owner.clone(), "/analytics"),
        (owner.clone(), "/analytics"),
        (owner.clone(), "/agents"),
        (owner.clone(), "/settings/tier"),
        (owner.clone(), "/settings/team"),
        (owner.clone(), "/settings/audit"),
        (owner.clone(), "/no/such/page"),
        (owner.clone(), "/api/v1/agents/me"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        let policy = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let (src, nonce) = script_src(&policy);
        let sources: Vec<&str> = src.split_whitespace().collect();
        for forbidden in ["'unsafe-inline'", "'unsafe-eval'", "*", "data:"] {
            assert!(!sources.contains(&forbidden), "{path}: {policy}");
        }
        let page = res.text().await.unwrap();
        // Each inline script carries this answer's nonce.
        for script in page.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap_or_default();
            if tag.contains("src=") {
                continue;
            }
            let nonce = nonce.as_deref().unwrap_or("(none)");
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: an inline script without the answer's nonce: <script{tag}>"
            );
        }
        if let Some(nonce) = nonce {
            assert!(nonces.insert(nonce), "{path}: a nonce used twice");
        }
    }
    assert!(nonces.len() >= 8, "pages name their nonce");
}

/// Trusting proxies without naming the header they write would leave the
/// other header to the client: the portal refuses to start, and says why.
async fn trusted_proxies_without_their_header_named_do_not_start(db: TestDb) {
    let (mut child, _, up) = spawn_serve(&db, &[("TRUSTED_PROXIES", "10.0.0.0/8")], &[]).await;
    let _ = child.kill();
    assert!(!child.wait().unwrap().success());
    assert!(!up, "served without CLIENT_IP_HEADER");
}
