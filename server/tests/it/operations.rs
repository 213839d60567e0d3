//! What an operator relies on: readiness, backups under load, checks.

use futures::future::join_all;
use reqwest::StatusCode;

use app::domain::Db;
use app::model::Tier;

use crate::common::{TestApp, TestDb};
use crate::on_both_backends;

on_both_backends!(
    TestDb =>
    every_answer_carries_a_request_id_a_proxy_may_set,
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
    let app = TestApp::start_configured(db, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
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
