//! The audit trail: what is recorded, in the change's transaction, and who
//! may read it (page, CSV, API).

use app::domain::audit::{self, By};
use app::domain::Clock;
use app::model::{AuditAction, Role, Tier};
use reqwest::StatusCode;

use crate::common::{http_client, TestApp, PASSWORD};
use crate::on_both_backends;
use crate::signup::{get, post, register_agent};
use crate::team::invite;

on_both_backends!(
    TestApp =>
    every_change_is_recorded_with_who_what_and_where,
    a_refused_change_leaves_no_entry,
    owners_and_admins_read_the_trail_viewers_do_not,
    the_trail_pages_and_filters_without_scanning,
    agents_read_the_trail_with_the_audit_scope,
    old_entries_are_pruned_after_the_retention,
    a_new_entry_shows_on_the_next_view,
);

async fn actions(app: &TestApp, tenant: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT action FROM audit_log WHERE tenant_id = $1 ORDER BY id")
        .bind(tenant)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

async fn every_change_is_recorded_with_who_what_and_where(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let wrong = app
        .sign_in(&app.client(), "nobody@acme.example", "x", "/")
        .await;
    assert_eq!(
        wrong.status(),
        StatusCode::UNAUTHORIZED,
        "an unknown address: no tenant to tell"
    );
    app.member(&tenant, "ada@acme.example", Role::Owner).await;
    app.sign_in(&app.client(), "ada@acme.example", "hunter2-guess", "/")
        .await;
    let ada = app.signed_in_existing("ada@acme.example").await;
    assert_eq!(register_agent(&app, &ada).await, StatusCode::CREATED);
    let agent: String = sqlx::query_scalar("SELECT id FROM agents WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let status = |action: &str| [("action", action.to_owned())];
    post(
        &app,
        &ada,
        &format!("/agents/{agent}/status"),
        &status("suspend")
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect::<Vec<_>>(),
    )
    .await;
    post(&app, &ada, &format!("/agents/{agent}/rotate"), &[]).await;
    post(
        &app,
        &ada,
        "/analytics/time-zone",
        &[("time_zone", "Asia/Tokyo")],
    )
    .await;
    invite(&app, &ada, "val@acme.example", "viewer").await;
    assert_eq!(
        actions(&app, &tenant).await,
        [
            "member.sign_in_failed",
            "member.signed_in",
            "agent.registered",
            "agent.suspended",
            "agent.secret_rotated",
            "tenant.time_zone_changed",
            "member.invited",
        ]
    );
    let (status, page) = get(&app, &ada, "/settings/audit").await;
    assert_eq!(status, StatusCode::OK);
    for label in [
        "Sign-in failed",
        "Agent registered",
        "Agent secret rotated",
        "Time zone changed",
        "Member invited",
    ] {
        assert!(page.contains(label), "{label} on the page");
    }
    assert!(page.contains("UTC → Asia/Tokyo"));
    assert!(page.contains("127.0.0.1"), "the client address");
    let table = &page[page.find("data-testid=\"audit\"").unwrap()..];
    let (invited, failed) = (table.find("Member invited"), table.find("Sign-in failed"));
    assert!(
        invited.is_some() && invited < failed,
        "newest first: {table}"
    );
    // Never a secret: no password, token or client secret in any entry.
    let details: Vec<(String, String)> = sqlx::query_as("SELECT object, detail FROM audit_log")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    for (object, detail) in details {
        for secret in [PASSWORD, "hunter2-guess"] {
            assert!(!object.contains(secret) && !detail.contains(secret));
        }
    }
    // The CSV has the same rows.
    let res = ada
        .get(app.url("/settings/audit/export.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 1 + 7);
    assert!(csv.starts_with("time,actor_kind,actor,action,object,detail,client_ip\n"));
    assert!(csv.contains(",member,ada@acme.example,agent.registered,Support bot ("));
}

async fn a_refused_change_leaves_no_entry(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let before = actions(&app, &tenant).await.len();
    let me: String = sqlx::query_scalar("SELECT id FROM members WHERE email = 'olga@acme.example'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let (status, _) = post(
        &app,
        &owner,
        &format!("/settings/team/members/{me}/role"),
        &[("role", "viewer")],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = post(
        &app,
        &owner,
        "/analytics/time-zone",
        &[("time_zone", "Mars/Olympus")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The free tier's agent limit: the refused registration is not recorded.
    let limit = app::model::tiers::TierLimits::of(Tier::Free)
        .agents
        .unwrap();
    for _ in 0..limit {
        assert_eq!(register_agent(&app, &owner).await, StatusCode::CREATED);
    }
    assert_eq!(register_agent(&app, &owner).await, StatusCode::CONFLICT);
    let after = actions(&app, &tenant).await;
    assert_eq!(after.len(), before + limit as usize, "{after:?}");
    assert!(after
        .iter()
        .all(|a| a != "member.role_changed" && a != "tenant.time_zone_changed"));
    // A failure inside the transaction takes its entry with it.
    let mut tx = app.db.pool.begin().await.unwrap();
    audit::record(
        &mut tx,
        &tenant,
        &By::operator(),
        AuditAction::RoleChanged,
        "x",
        "",
        0,
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(actions(&app, &tenant).await.len(), after.len());
}

async fn owners_and_admins_read_the_trail_viewers_do_not(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    assert_eq!(get(&app, &admin, "/settings/audit").await.0, StatusCode::OK);
    let (status, page) = get(&app, &viewer, "/settings/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("Only owners and admins can read the audit trail"));
    assert!(!page.contains("data-testid=\"audit-row\""));
    let (_, nav) = get(&app, &viewer, "/analytics").await;
    assert!(
        !nav.contains("href=\"/settings/audit\""),
        "no link for viewers"
    );
    let res = viewer
        .get(app.url("/settings/audit/export.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Another tenant's entries are not there.
    let other = app.tenant("Globex", Tier::Pro).await;
    app.signed_in(&other, "gus@globex.example", Role::Owner)
        .await;
    let (_, page) = get(&app, &admin, "/settings/audit").await;
    assert!(!page.contains("gus@globex.example"));
}

async fn the_trail_pages_and_filters_without_scanning(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let mut conn = app.db.pool.acquire().await.unwrap();
    let start = app.clock.now() - 10 * 86_400;
    for i in 0..120 {
        let (by, action) = if i % 3 == 0 {
            (By::stripe(), AuditAction::PaymentFailed)
        } else {
            (
                By::member("ada@acme.example", "10.0.0.1"),
                AuditAction::AgentSuspended,
            )
        };
        audit::record(
            &mut conn,
            &tenant,
            &by,
            action,
            &format!("#{i}"),
            "",
            start + i * 3600,
        )
        .await
        .unwrap();
    }
    drop(conn);
    let (_, page) = get(&app, &owner, "/settings/audit").await;
    assert_eq!(page.matches("data-testid=\"audit-row\"").count(), 50);
    let next = page
        .split("before=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older entries")
        .to_owned();
    let (_, older) = get(&app, &owner, &format!("/settings/audit?before={next}")).await;
    assert_eq!(older.matches("data-testid=\"audit-row\"").count(), 50);
    assert!(older.contains("← Newest"));
    let (_, stripe) = get(
        &app,
        &owner,
        "/settings/audit?actor=Stripe&action=billing.payment_failed",
    )
    .await;
    assert_eq!(stripe.matches("data-testid=\"audit-row\"").count(), 40);
    let day = |offset: i64| {
        jiff::Timestamp::from_second(start + offset * 86_400)
            .unwrap()
            .strftime("%Y-%m-%d")
            .to_string()
    };
    let (_, one_day) = get(
        &app,
        &owner,
        &format!("/settings/audit?from={}&to={}", day(1), day(1)),
    )
    .await;
    let rows = one_day.matches("data-testid=\"audit-row\"").count();
    assert!(
        (23..=24).contains(&rows),
        "one UTC day of hourly entries: {rows}"
    );
    for bad in [
        "from=yesterday",
        "action=agent.exploded",
        "before=abc",
        "from=2026-02-02&to=2026-02-01",
    ] {
        let (status, page) = get(&app, &owner, &format!("/settings/audit?{bad}")).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{bad}: the page says what is wrong"
        );
        assert!(page.contains("form-error"), "{bad}");
    }
    let res = owner
        .get(app.url("/settings/audit/export.csv?action=billing.payment_failed"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap().lines().count(), 1 + 40);
    let res = owner
        .get(app.url("/settings/audit/export.csv?from=nonsense"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

async fn agents_read_the_trail_with_the_audit_scope(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let (reader, secret) = app.agent(&tenant, "audit:read").await;
    let (other, other_secret) = app.agent(&tenant, "analytics:read").await;
    let token = |res: serde_json::Value| res["access_token"].as_str().unwrap().to_owned();
    let t = token(
        app.token(&reader, &secret, None)
            .await
            .json()
            .await
            .unwrap(),
    );
    let res = http_client()
        .get(app.url("/api/v1/audit?limit=1"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(
        body["entries"][0]["action"], "agent.registered",
        "newest first"
    );
    let before = body["next_before"]
        .as_str()
        .expect("more entries")
        .to_owned();
    let res = http_client()
        .get(app.url(&format!(
            "/api/v1/audit?before={before}&action=member.signed_in"
        )))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["entries"][0]["actor"], "ada@acme.example");
    let bad = http_client()
        .get(app.url("/api/v1/audit?limit=0"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let t2 = token(
        app.token(&other, &other_secret, None)
            .await
            .json()
            .await
            .unwrap(),
    );
    let res = http_client()
        .get(app.url("/api/v1/audit"))
        .bearer_auth(&t2)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.contains("scope=\"audit:read\""));
}

async fn old_entries_are_pruned_after_the_retention(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let mut conn = app.db.pool.acquire().await.unwrap();
    let now = app.clock.now();
    for age_days in [401, 399, 1] {
        audit::record(
            &mut conn,
            &tenant,
            &By::operator(),
            AuditAction::PlanChanged,
            "",
            "",
            now - age_days * 86_400,
        )
        .await
        .unwrap();
    }
    drop(conn);
    // The server's own hourly prune may have run first: either way, once.
    assert!(audit::prune(&app.db, 400, now).await.unwrap() <= 1);
    assert_eq!(actions(&app, &tenant).await.len(), 2);
}

/// Views of the trail are shared while it has not grown (within a second):
/// an entry shows on the next view, whether this instance wrote it (team
/// changes forget no cached reads) or another one did.
async fn a_new_entry_shows_on_the_next_view(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let ada = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let invited = "/settings/audit?action=member.invited";
    let (_, page) = get(&app, &ada, "/settings/audit").await;
    assert!(!page.contains("val@acme.example"));
    let (_, filtered) = get(&app, &ada, invited).await;
    assert!(filtered.contains("data-testid=\"audit-empty\""));

    invite(&app, &ada, "val@acme.example", "viewer").await;
    let (_, page) = get(&app, &ada, "/settings/audit").await;
    assert!(page.contains("val@acme.example"), "the invitation shows");
    let (_, filtered) = get(&app, &ada, invited).await;
    assert!(filtered.contains("val@acme.example"));

    let other = app.other_instance_db().await;
    let mut conn = other.pool.acquire().await.unwrap();
    audit::record(
        &mut conn,
        &tenant,
        &By::operator(),
        AuditAction::PlanChanged,
        "Acme",
        "from another instance",
        app.clock.now(),
    )
    .await
    .unwrap();
    let (_, page) = get(&app, &ada, "/settings/audit").await;
    assert!(page.contains("from another instance"));
}
