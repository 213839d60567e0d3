//! An agent's secrets over their life: rotation with an overlap, retiring
//! early, expiry by themselves (recorded and announced), last use.

use app::domain::agents::credentials;
use app::domain::Clock;
use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::agents_pages::test_id;
use crate::common::{location, TestApp, TestDb};
use crate::on_both_backends;
use crate::signup::{get, post};

on_both_backends!(
    TestApp =>
    an_old_secret_works_inside_its_window_and_fails_one_second_after,
    a_third_rotation_while_two_are_live_changes_nothing,
    retire_now_ends_a_secret_at_once_but_never_the_last,
    secrets_expire_by_themselves_recorded_and_announced_once,
    the_agent_page_says_which_secret_was_used_last,
    bad_rotation_choices_are_refused_and_change_nothing,
    the_secret_left_working_is_the_one_flagged,
);

on_both_backends!(
    TestDb =>
    an_agent_from_before_credentials_keeps_its_secret,
);

/// Rotates through the agent page's form; the new secret and the page.
async fn rotate(
    app: &TestApp,
    client: &reqwest::Client,
    id: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    post(app, client, &format!("/agents/{id}/rotate"), form).await
}

/// `data-status` of the page's credential rows, newest first.
fn statuses(html: &str) -> Vec<String> {
    html.split("data-testid=\"credential\" data-status=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// What the portal shows of a secret.
fn label(secret: &str) -> String {
    format!("ais_…{}", &secret[secret.len() - 4..])
}

async fn token_status(app: &TestApp, id: &str, secret: &str) -> StatusCode {
    app.token(id, secret, None).await.status()
}

async fn audit_details(app: &TestApp, action: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = $1 ORDER BY id")
        .bind(action)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

async fn an_old_secret_works_inside_its_window_and_fails_one_second_after(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, old) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let (status, html) = rotate(&app, &admin, &id, &[("overlap", "1h")]).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let new = test_id(&html, "client-secret").unwrap();
    assert_eq!(statuses(&html), ["active", "expiring"]);

    let res = app.token(&id, &old, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["credential"], label(&old));
    let res = app.token(&id, &new, None).await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["credential"], label(&new));

    app.clock.advance(3599);
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::OK);
    app.clock.advance(1);
    assert_eq!(
        token_status(&app, &id, &old).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    let html = get(&app, &admin, &format!("/agents/{id}")).await.1;
    assert_eq!(statuses(&html), ["active", "expired"]);
    let rotated = audit_details(&app, "agent.secret_rotated").await;
    assert_eq!(rotated.len(), 1);
    assert!(
        rotated[0].contains(&format!("new secret {}", label(&new)))
            && rotated[0].contains(&format!("{} works until", label(&old))),
        "{rotated:?}"
    );
}

async fn a_third_rotation_while_two_are_live_changes_nothing(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, first) = app.agent(&tenant, "jobs:run").await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let (_, html) = rotate(&app, &owner, &id, &[]).await;
    let second = test_id(&html, "client-secret").unwrap();
    let (status, html) = rotate(&app, &owner, &id, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        html.contains("already has 2 live secrets")
            && html.contains(&format!("Retire the older one ({})", label(&first))),
        "{html}"
    );
    assert!(!html.contains("data-testid=\"client-secret\""));
    assert_eq!(statuses(&html), ["active", "expiring"]);
    for secret in [&first, &second] {
        assert_eq!(token_status(&app, &id, secret).await, StatusCode::OK);
    }
    assert_eq!(audit_details(&app, "agent.secret_rotated").await.len(), 1);
}

async fn retire_now_ends_a_secret_at_once_but_never_the_last(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, old) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let (_, html) = rotate(&app, &admin, &id, &[("overlap", "30d")]).await;
    let new = test_id(&html, "client-secret").unwrap();
    let list = credentials::list(&app.db, &tenant, &id).await.unwrap();
    let (newest, oldest) = (&list[0], &list[1]);

    // A viewer sees them, and cannot retire one.
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let page = get(&app, &viewer, &format!("/agents/{id}")).await.1;
    assert_eq!(statuses(&page), ["active", "expiring"]);
    assert!(!page.contains("Retire now") && !page.contains("Rotate secret"));
    let retire = format!("/agents/{id}/credentials/{}/retire", oldest.id);
    assert_eq!(
        post(&app, &viewer, &retire, &[]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::OK);

    let res = admin.post(app.url(&retire)).send().await.unwrap();
    assert_eq!(location(&res), format!("/agents/{id}?done=retire"));
    assert_eq!(
        token_status(&app, &id, &old).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    let html = get(&app, &admin, &format!("/agents/{id}?done=retire"))
        .await
        .1;
    assert!(html.contains("Secret retired"));
    assert_eq!(statuses(&html), ["active", "retired"]);
    assert_eq!(
        audit_details(&app, "agent.secret_retired").await,
        [format!("secret {}", label(&old))]
    );

    // The only working secret stays: rotate first.
    let last = format!("/agents/{id}/credentials/{}/retire", newest.id);
    let (status, html) = post(&app, &admin, &last, &[]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("only working secret"), "{html}");
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    // Retired already, another agent's, or made up: nothing happens.
    assert_eq!(
        post(&app, &admin, &retire, &[]).await.0,
        StatusCode::CONFLICT
    );
    let made_up = format!("/agents/{id}/credentials/nope/retire");
    assert_eq!(
        post(&app, &admin, &made_up, &[]).await.0,
        StatusCode::BAD_REQUEST
    );
    let other = app.tenant("Globex", Tier::Pro).await;
    let (theirs, _) = app.agent(&other, "jobs:run").await;
    let foreign = format!("/agents/{theirs}/credentials/{}/retire", newest.id);
    assert_eq!(
        post(&app, &admin, &foreign, &[]).await.0,
        StatusCode::NOT_FOUND
    );
}

async fn secrets_expire_by_themselves_recorded_and_announced_once(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    app.member(&tenant, "ada@acme.example", Role::Admin).await;
    app.member(&tenant, "val@acme.example", Role::Viewer).await;
    let form = [
        ("name", "expiring-bot"),
        ("agent_type", "worker"),
        ("version", "1.0.0"),
        ("capabilities", "jobs:run"),
        ("owner", "ops"),
        ("environment", "production"),
        ("secret_expires", "30"),
    ];
    let (status, html) = post(&app, &owner, "/agents", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    let id = test_id(&html, "client-id").unwrap();
    let secret = test_id(&html, "client-secret").unwrap();
    let list = get(&app, &owner, "/agents").await.1;
    assert!(!list.contains("data-testid=\"secret-expiring\""));

    app.clock.advance(17 * 86_400);
    // Sessions do not last that long.
    let owner = app.signed_in_existing("olga@acme.example").await;
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(
        test_id(&list, "secret-expiring").as_deref(),
        Some("Secret expires in 13 days")
    );
    let outbox = app::domain::outbox::Outbox::new(&app.base, &app.keys.get());
    let watched = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!((watched.expired, watched.warned), (0, 0), "not yet");

    app.clock.advance(6 * 86_400);
    let watched = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!(watched.warned, 1);
    let again = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!(again.warned, 0, "once");
    let recipients: Vec<String> = sqlx::query_scalar(
        "SELECT recipient FROM mail_outbox WHERE subject LIKE '%secret expires in 7 days' \
         ORDER BY recipient",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(recipients, ["ada@acme.example", "olga@acme.example"]);
    let mail = app.mail.nth("olga@acme.example", 1).await;
    assert!(mail.text.contains("expiring-bot") && mail.text.contains(&format!("/agents/{id}")));

    app.clock.advance(7 * 86_400 - 1);
    assert_eq!(token_status(&app, &id, &secret).await, StatusCode::OK);
    app.clock.advance(1);
    assert_eq!(
        token_status(&app, &id, &secret).await,
        StatusCode::UNAUTHORIZED
    );
    let watched = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!(watched.expired, 1);
    let again = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!(again.expired, 0, "recorded once");
    let (actor, detail): (String, String) =
        sqlx::query_as("SELECT actor, detail FROM audit_log WHERE action = 'agent.secret_expired'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(actor, "portal");
    assert!(detail.contains(&label(&secret)), "{detail}");
    let owner = app.signed_in_existing("olga@acme.example").await;
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(
        test_id(&list, "secret-expiring").as_deref(),
        Some("Secret expired")
    );
}

async fn the_agent_page_says_which_secret_was_used_last(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, old) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let html = get(&app, &admin, &format!("/agents/{id}")).await.1;
    assert_eq!(
        test_id(&html, "last-token-from").as_deref(),
        Some("No token yet.")
    );
    let (_, html) = rotate(&app, &admin, &id, &[]).await;
    let new = test_id(&html, "client-secret").unwrap();
    assert_eq!(token_status(&app, &id, &old).await, StatusCode::OK);
    app.clock.advance(120);
    assert_eq!(token_status(&app, &id, &new).await, StatusCode::OK);
    let expected = format!("The last token came from {}.", label(&new));
    let mut html = String::new();
    for _ in 0..50 {
        html = get(&app, &admin, &format!("/agents/{id}")).await.1;
        if test_id(&html, "last-token-from").as_deref() == Some(expected.as_str()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(test_id(&html, "last-token-from"), Some(expected));
    let used: Vec<Option<i64>> = sqlx::query_scalar(
        "SELECT last_used_at FROM agent_credentials WHERE agent_id = $1 \
         ORDER BY created_at, COALESCE(replaced_at, 9223372036854775807)",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(used, [Some(app.clock.now() - 120), Some(app.clock.now())]);
}

async fn bad_rotation_choices_are_refused_and_change_nothing(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    for form in [
        [("overlap", "2h"), ("secret_expires", "never")],
        [("overlap", "24h"), ("secret_expires", "45")],
        [("overlap", "24h\u{0}"), ("secret_expires", "")],
    ] {
        let (status, html) = rotate(&app, &admin, &id, &form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert!(html.contains("Choose"), "{html}");
    }
    assert_eq!(
        credentials::list(&app.db, &tenant, &id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(token_status(&app, &id, &secret).await, StatusCode::OK);
    let (status, _) = rotate(
        &app,
        &admin,
        &id,
        &[("overlap", "7d"), ("secret_expires", "90")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let list = credentials::list(&app.db, &tenant, &id).await.unwrap();
    let now = app.clock.now();
    assert_eq!(list[0].expires_at, Some(now + 90 * 86_400));
    assert_eq!(list[1].expires_at, Some(now + 7 * 86_400));
}

/// A database of the version before agents' secrets had a table of their
/// own: its agent gets tokens with the secret it had, after the upgrade.
async fn an_agent_from_before_credentials_keeps_its_secret(db: TestDb) {
    use app::domain::db::Backend;
    use app::domain::keys::{MasterKey, ServerKeys};
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(&db.url).unwrap();
    let mut migrator = match backend {
        Backend::Sqlite => sqlx::migrate!("../migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("../migrations/postgres"),
    };
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 11)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let url = match backend {
        Backend::Sqlite => format!("{}?mode=rwc", db.url),
        Backend::Postgres => db.url.clone(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    migrator.run(&pool).await.unwrap();
    let old = app::domain::Db {
        pool: pool.clone(),
        backend,
        recent: Default::default(),
        reader: None,
    };
    let master = MasterKey::generate();
    let keys = ServerKeys::load_or_create(&old, &master, 0).await.unwrap();
    let secret = "ais_theSecretThisAgentWasGivenLongAgo0123456789abc";
    sqlx::query(
        "INSERT INTO tenants (id, name, tier, created_at) VALUES ('t-old', 'Old', 'pro', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let agent = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO agents (id, tenant_id, name, agent_type, version, capabilities, owner, \
         environment, status, secret_hash, created_at, updated_at, last_token_at) VALUES ($1, \
         't-old', 'old', 'worker', '1', 'jobs:run', 'ops', 'production', 'active', $2, 0, 0, \
         1700000000)",
    )
    .bind(&agent)
    .bind(app::domain::agents::hash_secret(&keys, secret))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let key = master.to_base64();
    let app = TestApp::start_configured(db, move |c| c.master_key = Some(key)).await;
    let list = credentials::list(&app.db, "t-old", &agent).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].label, "ais_…");
    assert_eq!(list[0].expires_at, None);
    assert_eq!(
        list[0].last_used_at,
        Some(1_700_000_000),
        "the secret its agent's last token came from"
    );
    assert_eq!(token_status(&app, &agent, secret).await, StatusCode::OK);
}

/// Retiring the new secret during the overlap makes the old one the
/// agent's current again: its end is flagged (and announced). A rotation
/// after the current secret expired clears the flag.
async fn the_secret_left_working_is_the_one_flagged(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, old) = app.agent(&tenant, "jobs:run").await;
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let (_, html) = rotate(&app, &owner, &id, &[("overlap", "7d")]).await;
    let new = test_id(&html, "client-secret").unwrap();
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(
        test_id(&list, "secret-expiring"),
        None,
        "the new one never expires"
    );
    let newest = credentials::list(&app.db, &tenant, &id).await.unwrap()[0]
        .id
        .clone();
    let retire = format!("/agents/{id}/credentials/{newest}/retire");
    assert_eq!(
        post(&app, &owner, &retire, &[]).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        token_status(&app, &id, &new).await,
        StatusCode::UNAUTHORIZED
    );
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(
        test_id(&list, "secret-expiring").as_deref(),
        Some("Secret expires in 7 days")
    );
    let outbox = app::domain::outbox::Outbox::new(&app.base, &app.keys.get());
    let watched = credentials::watch(&app.db, &outbox, app.clock.now())
        .await
        .unwrap();
    assert_eq!(watched.warned, 1, "its owners hear of it");

    app.clock.advance(7 * 86_400);
    assert_eq!(
        token_status(&app, &id, &old).await,
        StatusCode::UNAUTHORIZED
    );
    let owner = app.signed_in_existing("olga@acme.example").await;
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(test_id(&list, "secret-expired"), None);
    assert_eq!(
        test_id(&list, "secret-expiring").as_deref(),
        Some("Secret expired")
    );
    let (status, html) = rotate(&app, &owner, &id, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let recovered = test_id(&html, "client-secret").unwrap();
    assert_eq!(token_status(&app, &id, &recovered).await, StatusCode::OK);
    let list = get(&app, &owner, "/agents").await.1;
    assert_eq!(test_id(&list, "secret-expiring"), None, "{list}");
}
