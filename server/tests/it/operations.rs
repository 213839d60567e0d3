//! What an operator relies on: readiness, backups under load, checks.

use futures::future::join_all;
use reqwest::StatusCode;

use app::domain::Db;
use app::model::{Role, Tier};

use crate::common::{TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    TestDb =>
    every_answer_carries_a_request_id_a_proxy_may_set,
    every_metrics_family_appears_and_moves,
    built_assets_are_linked_under_the_build_and_kept_until_it_changes,
);

on_both_backends!(
    TestApp =>
    health_and_readiness_answer_without_a_session,
    a_backup_taken_under_write_load_holds_every_counted_token,
);

async fn health_and_readiness_answer_without_a_session(app: TestApp) {
    let client = crate::common::http_client();
    let live = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["metering"], "ok");
    assert!(app.db.check().await.unwrap().is_empty());
}

async fn sums(db: &Db) -> (i64, i64, i64) {
    let one = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    (
        one("SELECT CAST(COALESCE(SUM(tokens_issued), 0) AS BIGINT) FROM usage_daily").await,
        one("SELECT CAST(COALESCE(SUM(tokens_issued), 0) AS BIGINT) FROM usage_agent_day").await,
        one("SELECT CAST(COALESCE(SUM(tokens_issued), 0) AS BIGINT) FROM usage_tenant_quarter")
            .await,
    )
}

async fn a_backup_taken_under_write_load_holds_every_counted_token(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "files:read").await;
    let dir = tempfile::tempdir().unwrap();
    let during = dir.path().join("during.db");
    let after = dir.path().join("after.db");
    if app.db.backend == app::domain::db::Backend::Postgres {
        let refused = app.db.backup_to(&during).await.unwrap_err().to_string();
        assert!(refused.contains("pg_dump"), "{refused}");
        return;
    }
    let load = join_all((0..200).map(|_| app.token(&id, &secret, None)));
    let backup = async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        app.db.backup_to(&during).await.unwrap();
    };
    let (answers, ()) = tokio::join!(load, backup);
    let served = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count() as i64;
    assert_eq!(served, 200);
    app.db.backup_to(&after).await.unwrap();
    assert!(
        app.db.backup_to(&after).await.is_err(),
        "an existing file is never overwritten"
    );
    // Restored: the copy taken mid-load is one consistent moment, the one
    // taken after holds every token served.
    let restore = |path: std::path::PathBuf| async move {
        Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
    };
    let (daily, per_agent, quarters) = sums(&restore(during).await).await;
    assert!(daily <= served);
    assert_eq!(
        (per_agent, quarters),
        (daily, daily),
        "one consistent snapshot"
    );
    assert_eq!(
        sums(&restore(after.clone()).await).await,
        (served, served, served)
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&after).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

async fn every_answer_carries_a_request_id_a_proxy_may_set(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let client = crate::common::http_client();
    let mut seen = std::collections::HashSet::new();
    for path in [
        "/healthz",
        "/login",
        "/analytics",
        "/api/v1/agents/me",
        "/no/such/page",
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(id.len() >= 16, "{path}: {id}");
        assert!(seen.insert(id), "ids are unique");
    }
    // Behind the trusted proxy its id is kept; a malformed one is replaced.
    let res = client
        .get(app.url("/healthz"))
        .header("x-request-id", "proxy-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "proxy-abc-123");
    let res = client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id <script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id <script>");
}

/// The sum of every sample of `family` in a Prometheus text scrape.
fn total(scrape: &str, family: &str) -> f64 {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn every_metrics_family_appears_and_moves(db: TestDb) {
    // Port 0: the portal binds a free port itself (a port picked here and
    // bound later could be taken by a parallel test in between).
    let app = TestApp::start_configured(db, |c| {
        c.metrics_addr = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    })
    .await;
    let metrics = app.metrics_addr.expect("metrics configured");
    assert_ne!(metrics.port(), 0);
    // Not on the public address.
    let public = crate::common::http_client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let tenant = app.tenant("Acme", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "files:read").await;
    let before = app.metrics().await;
    // One of each: sign-ins, a page, a token, an API call, a webhook.
    let client = app
        .signed_in(&tenant, "ada@acme.example", app::model::Role::Owner)
        .await;
    app.sign_in(&app.client(), "ada@acme.example", "wrong password", "/")
        .await;
    client.get(app.url("/agents")).send().await.unwrap();
    let token: serde_json::Value = app.token(&id, &secret, None).await.json().await.unwrap();
    crate::common::http_client()
        .get(app.url("/api/v1/agents/me"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    crate::common::http_client()
        .post(app.url("/api/stripe/webhook"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let after = app.metrics().await;
    for family in [
        "portal_http_requests_total",
        "portal_http_request_duration_seconds_count",
        "portal_tokens_total",
        "portal_api_calls_total",
        "portal_metering_batch_size_count",
        "portal_metering_commit_seconds_count",
        "portal_sign_ins_total",
        "portal_stripe_webhooks_total",
    ] {
        assert!(
            total(&after, family) > total(&before, family),
            "{family} did not move:\n{after}"
        );
    }
    for family in [
        "portal_metering_queue_depth",
        "portal_db_connections",
        "portal_render_stalls_total",
        "portal_metrics_series_dropped_total",
    ] {
        assert!(after.contains(family), "{family} missing:\n{after}");
    }
    assert!(after.contains("tier=\"free\""), "by tier, never by tenant");
    assert!(!after.contains(&tenant), "no tenant id in a label");
}

/// Pages link the style sheet and the islands' loader under the build's
/// version, and an asset asked for under it may be kept for good (no
/// revalidation on every page); without it, or under another build's, the
/// browser must revalidate.
async fn built_assets_are_linked_under_the_build_and_kept_until_it_changes(db: TestDb) {
    let site = tempfile::tempdir().unwrap();
    for (path, body) in [
        ("pkg/portal.css", "body { color: black }"),
        ("scripts/islands.js", "// the loader"),
        ("favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
    ] {
        let file = site.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let root = site.path().to_str().unwrap().to_owned();
    let app = TestApp::start_configured(db, move |c| c.site_root = root).await;
    let client = crate::common::http_client();
    let login = client.get(app.url("/login")).send().await.unwrap();
    let page = login.text().await.unwrap();
    let version = page
        .split("href=\"/pkg/portal.css?v=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the style sheet under a version: {page}"))
        .to_owned();
    assert_eq!(version.len(), 12, "{version}");
    let icon = format!("href=\"/favicon.svg?v={version}\"");
    assert!(page.contains(&icon), "{page}");

    let tenant = app.tenant("Acme", Tier::Pro).await;
    let member = app.signed_in(&tenant, "ada@acme.test", Role::Viewer).await;
    let analytics = member.get(app.url("/analytics")).send().await.unwrap();
    let analytics = analytics.text().await.unwrap();
    let loader = format!("src=\"/scripts/islands.js?v={version}\"");
    assert!(analytics.contains(&loader), "{analytics}");

    let cache_control = |path: String| {
        let client = client.clone();
        let url = app.url(&path);
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            res.headers()["cache-control"].to_str().unwrap().to_owned()
        }
    };
    for path in ["/pkg/portal.css", "/scripts/islands.js", "/favicon.svg"] {
        assert_eq!(
            cache_control(format!("{path}?v={version}")).await,
            "public, max-age=31536000, immutable"
        );
        assert_eq!(cache_control(path.to_owned()).await, "no-cache");
        assert_eq!(
            cache_control(format!("{path}?v=0123456789ab")).await,
            "no-cache"
        );
    }
    // Pages themselves are never kept.
    let login = client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");
}
