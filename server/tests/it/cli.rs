//! The `portal` binary's subcommands, run as an operator would.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::common::{spawn_serve, TestDb};
use crate::on_both_backends;

on_both_backends!(
    TestDb =>
    tenant_create_and_list,
    member_add_with_stdin_or_generated_password,
    member_add_errors,
    member_invite_set_role_and_remove,
    demo_seed_is_idempotent,
    serve_answers_on_its_address,
    tokens_received_are_counted_even_after_sigkill,
    a_time_zone_set_by_the_cli_files_the_serving_portal_s_next_token,
    agents_made_by_the_cli_beside_the_serving_portal_get_tokens_and_the_database_stays_intact,
    db_check_and_backup,
    sigterm_under_load_loses_no_counted_token,
);

fn portal(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("PORTAL_MASTER_KEY_FILE", db.key_file())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portal runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// Stops a spawned `portal serve` as an operator would (SIGTERM), and waits
/// for it to exit.
fn stop(child: &mut std::process::Child) {
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    child.wait().unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn tenant_create_and_list(db: TestDb) {
    let out = portal(
        &db,
        &[
            "tenant",
            "create",
            "--name",
            "Acme Robotics",
            "--tier",
            "pro",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "prints the id: {id}");

    let dup = portal(&db, &["tenant", "create", "--name", "acme robotics"], None);
    assert_eq!(dup.status.code(), Some(1));
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );

    let bad = portal(
        &db,
        &["tenant", "create", "--name", "X", "--tier", "gold"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("unknown tier"));

    let list = portal(&db, &["tenant", "list"], None);
    let listed = text(&list.stdout);
    assert!(listed.contains(&id) && listed.contains("pro") && listed.contains("Acme Robotics"));
}

async fn member_add_with_stdin_or_generated_password(db: TestDb) {
    portal(&db, &["tenant", "create", "--name", "Acme"], None);
    let out = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "Ada@Acme.example",
            "--role",
            "owner",
            "--password-stdin",
        ],
        Some("s3cret passphrase\n"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("s3cret"),
        "a given password is never echoed"
    );

    let out = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "bob@acme.example",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let generated = stderr
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .expect("generated password printed")
        .to_owned();

    let list = text(&portal(&db, &["member", "list", "--tenant", "Acme"], None).stdout);
    assert!(
        list.contains("owner     yes       ada@acme.example"),
        "{list}"
    );
    assert!(
        list.contains("admin     yes       bob@acme.example"),
        "{list}"
    );

    // Both passwords sign in to the real portal.
    let app = crate::common::TestApp::start_on(db).await;
    for (email, password) in [
        ("ada@acme.example", "s3cret passphrase"),
        ("bob@acme.example", generated.as_str()),
    ] {
        let res = app
            .sign_in(&app.client(), email, password, "/analytics")
            .await;
        assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER, "{email}");
    }
}

async fn member_add_errors(db: TestDb) {
    portal(&db, &["tenant", "create", "--name", "Acme"], None);
    let unknown = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Nope",
            "--email",
            "a@b.example",
        ],
        None,
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(text(&unknown.stderr).contains("tenant not found"));

    portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "a@b.example",
        ],
        None,
    );
    let dup = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "A@B.example",
        ],
        None,
    );
    assert_eq!(dup.status.code(), Some(1));
    assert!(text(&dup.stderr).contains("already exists"));

    let short = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "c@b.example",
            "--password-stdin",
        ],
        Some("short"),
    );
    assert_eq!(short.status.code(), Some(2));
    assert!(text(&short.stderr).contains("at least 12 characters"));

    let bad_email = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "not-an-email",
        ],
        None,
    );
    assert_eq!(bad_email.status.code(), Some(2));

    let bad_role = portal(
        &db,
        &[
            "member",
            "add",
            "--tenant",
            "Acme",
            "--email",
            "d@b.example",
            "--role",
            "god",
        ],
        None,
    );
    assert_eq!(bad_role.status.code(), Some(2));
}

async fn demo_seed_is_idempotent(db: TestDb) {
    let first = portal(&db, &["demo", "seed"], None);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(text(&first.stderr).contains("owner@acme.example"));
    let second = portal(&db, &["demo", "seed"], None);
    assert_eq!(second.status.code(), Some(0));
    assert!(text(&second.stderr).contains("already present"));
    let list = text(&portal(&db, &["tenant", "list"], None).stdout);
    assert_eq!(list.lines().count(), 4, "header + 3 tenants: {list}");
    for tier in ["free", "pro", "enterprise"] {
        assert!(list.contains(tier), "{list}");
    }
    // Each tenant has agents and 100 days of usage, within its tier's limits.
    let db = app::domain::Db::connect(&db.url).await.unwrap();
    for t in app::domain::tenants::list(&db).await.unwrap() {
        let agents = app::domain::agents::list(&db, &t.id).await.unwrap();
        assert!(agents.len() >= 7, "{}: {} agents", t.name, agents.len());
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT day, tokens_issued, api_calls FROM usage_daily WHERE tenant_id = $1 ORDER BY day",
        )
        .bind(&t.id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        // Every one of the 99 days before today has usage; today may not
        // yet: just after midnight UTC (on a weekend especially) the first
        // hour's expected usage rounds to nothing for every agent.
        let today =
            app::model::tiers::utc_day_start(time::OffsetDateTime::now_utc().unix_timestamp());
        let before_today = rows.iter().filter(|(day, _, _)| *day < today).count();
        assert_eq!(before_today, 99, "{}", t.name);
        assert!(rows.len() <= 100, "{}: {} days", t.name, rows.len());
        let limits = app::model::tiers::TierLimits::of(t.tier);
        let (tokens, calls) = (
            limits.tokens_per_day.unwrap_or(u64::MAX),
            limits.api_calls_per_day.unwrap_or(u64::MAX),
        );
        assert!(
            rows.iter()
                .all(|(_, t, c)| *t as u64 <= tokens && *c as u64 <= calls),
            "{}",
            t.name
        );
        assert!(
            rows.iter().map(|(_, n, _)| n).sum::<i64>() > 10_000,
            "{}",
            t.name
        );
    }
}

async fn serve_answers_on_its_address(db: TestDb) {
    let (mut child, base, up) = spawn_serve(&db, &[], &["--demo"]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let login = client
        .post(format!("{base}/login"))
        .header("origin", &base)
        .form(&[
            ("email", "owner@globex.example"),
            ("password", "portal-demo"),
        ])
        .send()
        .await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(up, "serve answers /healthz");
    assert_eq!(
        login.unwrap().status(),
        reqwest::StatusCode::SEE_OTHER,
        "demo owner signs in"
    );
}

// The CLI's tenant is unlimited: on SQLite its counts are journaled before
// the answer and folded later, so a killed portal's next start replays them.
async fn tokens_received_are_counted_even_after_sigkill(db: TestDb) {
    let (id, secret) = agent_by_cli(&db, "Kill");
    let (mut child, base, up) = spawn_serve(&db, &[], &[]).await;
    assert!(up, "serve answers /healthz");
    let client = crate::common::http_client();
    let requests = (0..50).map(|_| {
        client
            .post(format!("{base}/api/v1/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    });
    let received = futures::future::join_all(requests)
        .await
        .into_iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status().is_success()))
        .count();
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();
    assert_eq!(received, 50);
    let (mut again, _, up) = spawn_serve(&db, &[], &[]).await;
    assert!(up, "serve starts again");
    let db = app::domain::Db::connect(&db.url).await.unwrap();
    let tenant = app::domain::tenants::find_by_id_or_name(&db, "Kill")
        .await
        .unwrap();
    let counted = || async {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        app::domain::metering::usage_today(&db, &tenant.id, now)
            .await
            .unwrap()
            .tokens_issued
    };
    let started = std::time::Instant::now();
    while counted().await < 50 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    again.kill().unwrap();
    again.wait().unwrap();
    assert_eq!(
        counted().await,
        50,
        "every token a client received was counted, once"
    );
}

// The CLI is another process: the serving portal, which journals this
// unlimited tenant's tokens on SQLite, must still see its commit by the next
// request. UTC-11 and UTC+14 are on different dates at any hour.
async fn a_time_zone_set_by_the_cli_files_the_serving_portal_s_next_token(db: TestDb) {
    let (id, secret) = agent_by_cli(&db, "Zones");
    let set_zone = |zone: &str| {
        let out = portal(
            &db,
            &[
                "tenant",
                "set-time-zone",
                "--tenant",
                "Zones",
                "--time-zone",
                zone,
            ],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };
    set_zone("Pacific/Pago_Pago");
    let (mut child, base, up) = spawn_serve(&db, &[], &[]).await;
    assert!(up, "serve answers /healthz");
    let client = crate::common::http_client();
    let token = || async {
        let res = client
            .post(format!("{base}/api/v1/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    };
    for _ in 0..3 {
        token().await;
    }
    set_zone("Pacific/Kiritimati");
    for _ in 0..2 {
        token().await;
    }
    stop(&mut child);
    let db = app::domain::Db::connect(&db.url).await.unwrap();
    let filed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT local_date, CAST(tokens_issued AS BIGINT) FROM usage_agent_day \
         WHERE agent_id = $1 ORDER BY local_date",
    )
    .bind(&id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let date = |zone: &str| {
        let zone = jiff::tz::TimeZone::get(zone).unwrap();
        app::domain::time_zones::local_date(now, &zone).to_string()
    };
    assert_eq!(
        filed,
        [
            (date("Pacific/Pago_Pago"), 3),
            (date("Pacific/Kiritimati"), 2)
        ]
    );
}

#[test]
fn a_bad_configuration_is_refused_line_by_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("serve")
        .env("DATABASE_URL", "mysql://nope")
        .env("PUBLIC_URL", "portal.example")
        .env("STRIPE_SECRET_KEY", "sk_live_x")
        .env("PORTAL_MASTER_KEY", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    for problem in [
        "DATABASE_URL",
        "PUBLIC_URL",
        "STRIPE_PRO_PRICE_ID",
        "STRIPE_WEBHOOK_SECRET",
        "PORTAL_MASTER_KEY",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("configuration error:") && l.contains(problem)),
            "no line for {problem}:\n{stderr}"
        );
    }
}

#[test]
fn an_in_memory_database_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["tenant", "list"])
        .env("DATABASE_URL", "sqlite::memory:")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("configuration error:") && stderr.contains("names no file"),
        "{stderr}"
    );
}

#[test]
fn help_lists_every_subcommand_and_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for word in [
        "serve",
        "tenant",
        "member",
        "demo",
        "keys",
        "DATABASE_URL",
        "PORTAL_MASTER_KEY",
        "TRUSTED_PROXIES",
        "CLIENT_IP_HEADER",
        "TOKEN_AUDIENCE",
        "LEPTOS_SITE_ADDR",
        "SESSION_SECURE",
        "SESSION_IDLE_MINUTES",
        "STRIPE_SECRET_KEY",
        "STRIPE_PRO_PRICE_ID",
        "STRIPE_WEBHOOK_SECRET",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("frobnicate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// The CLI is another process writing the database the portal serves. On
// SQLite, a portal that let go of its locks on the database file (by closing
// a descriptor of it) had the CLI checkpoint and remove the WAL it still
// wrote to: agents made meanwhile were refused tokens, then reads failed on
// a corrupt file.
async fn agents_made_by_the_cli_beside_the_serving_portal_get_tokens_and_the_database_stays_intact(
    db: TestDb,
) {
    let (id, secret) = agent_by_cli(&db, "Beside");
    let (mut child, base, up) = spawn_serve(&db, &[], &[]).await;
    assert!(up, "serve answers /healthz");
    let client = crate::common::http_client();
    let token = |id: String, secret: String| {
        let client = client.clone();
        let url = format!("{base}/api/v1/token");
        async move {
            client
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert!(token(id.clone(), secret.clone()).await.is_success());
    for i in 0..20 {
        let (new_id, new_secret) = another_agent_by_cli(&db, "Beside", &format!("b{i}"));
        let status = token(new_id, new_secret).await;
        assert!(status.is_success(), "agent {i} made by the CLI: {status}");
        assert!(token(id.clone(), secret.clone()).await.is_success());
    }
    stop(&mut child);
    let check = portal(&db, &["db", "check"], None);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stdout));
    assert_eq!(text(&check.stdout).trim(), "ok");
}

async fn db_check_and_backup(db: TestDb) {
    let check = portal(&db, &["db", "check"], None);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
    assert_eq!(text(&check.stdout).trim(), "ok");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    if db.url.starts_with("sqlite:") {
        // Big enough that the copy takes a while to write: long enough to
        // look at the file while it is being written.
        let filled = app::domain::Db::connect(&db.url).await.unwrap();
        sqlx::query("CREATE TABLE filler (b BLOB)")
            .execute(&filled.pool)
            .await
            .unwrap();
        for _ in 0..48 {
            sqlx::query("INSERT INTO filler VALUES (randomblob(1048576))")
                .execute(&filled.pool)
                .await
                .unwrap();
        }
        filled.pool.close().await;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["db", "backup", path.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("PORTAL_MASTER_KEY_FILE", db.key_file())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portal runs");
    // The file's mode from the moment it exists: a copy of the database is
    // never readable by another user, not even half written.
    let mut first_mode = None;
    while first_mode.is_none() && child.try_wait().unwrap().is_none() {
        use std::os::unix::fs::PermissionsExt;
        first_mode = std::fs::metadata(&path)
            .ok()
            .map(|m| m.permissions().mode() & 0o777);
    }
    let backup = child.wait_with_output().unwrap();
    if db.url.starts_with("sqlite:") {
        assert_eq!(backup.status.code(), Some(0), "{}", text(&backup.stderr));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let first = first_mode.expect("the copy was seen while being written");
        assert_eq!(first, 0o600, "the backup was {first:o} while written");
    } else {
        assert_eq!(backup.status.code(), Some(2));
        assert!(text(&backup.stderr).contains("pg_dump"));
    }
}

/// An enterprise tenant named `tenant` with one agent, made as an operator
/// would: (client id, client secret).
fn agent_by_cli(db: &TestDb, tenant: &str) -> (String, String) {
    let created = portal(
        db,
        &["tenant", "create", "--name", tenant, "--tier", "enterprise"],
        None,
    );
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    another_agent_by_cli(db, tenant, "a")
}

/// An agent named `name` of `tenant`, made by the CLI: (client id, client
/// secret).
fn another_agent_by_cli(db: &TestDb, tenant: &str, name: &str) -> (String, String) {
    let out = portal(
        db,
        &[
            "agent",
            "create",
            "--tenant",
            tenant,
            "--name",
            name,
            "--capabilities",
            "a:run",
            "--owner",
            "qa",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let creds = text(&out.stdout);
    let field = |name: &str| {
        creds
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    (field("client_id"), field("client_secret"))
}

/// SIGTERM while clients keep asking for tokens: the portal stops taking
/// connections, answers what it took, and every token it served is counted.
async fn sigterm_under_load_loses_no_counted_token(db: TestDb) {
    let (id, secret) = agent_by_cli(&db, "Term");
    let (mut child, base, up) = spawn_serve(&db, &[], &[]).await;
    assert!(up);
    let pid = child.id().to_string();
    let client = crate::common::http_client();
    let load = (0..16).map(|_| {
        let (client, base, id, secret) = (client.clone(), base.clone(), id.clone(), secret.clone());
        async move {
            let mut served = 0;
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while std::time::Instant::now() < deadline {
                let answer = client
                    .post(format!("{base}/api/v1/token"))
                    .basic_auth(&id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                match answer {
                    // A token counts as served once the client has all of it.
                    Ok(r) if r.status().is_success() => {
                        if r.text().await.is_ok() {
                            served += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break, // the portal has stopped taking connections
                }
            }
            served
        }
    });
    let term = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
    };
    let (served, ()) = tokio::join!(futures::future::join_all(load), term);
    let served: i64 = served.into_iter().sum();
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exited.success(), "a clean exit after SIGTERM: {exited:?}");
    assert!(served > 0);
    let db = app::domain::Db::connect(&db.url).await.unwrap();
    let counted: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(tokens_issued), 0) AS BIGINT) FROM usage_daily",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(counted, served, "served = counted");
}

async fn member_invite_set_role_and_remove(db: TestDb) {
    let run = |args: &[&str]| portal(&db, args, None);
    run(&["tenant", "create", "--name", "Acme"]);
    for (email, role) in [
        ("olga@acme.example", "owner"),
        ("ada@acme.example", "admin"),
    ] {
        let out = run(&[
            "member", "add", "--tenant", "Acme", "--email", email, "--role", role,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = run(&[
        "member",
        "invite",
        "--tenant",
        "acme",
        "--email",
        "Vic@acme.example",
        "--role",
        "viewer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("invited vic@acme.example as viewer"));
    // The invitation waits in the outbox (no SMTP_URL here).
    let status = run(&["mail", "status"]);
    assert!(
        text(&status.stdout).contains("pending   1"),
        "{}",
        text(&status.stdout)
    );

    let out = run(&[
        "member",
        "set-role",
        "--tenant",
        "Acme",
        "--email",
        "ada@acme.example",
        "--role",
        "viewer",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = run(&[
        "member",
        "set-role",
        "--tenant",
        "Acme",
        "--email",
        "olga@acme.example",
        "--role",
        "admin",
    ]);
    assert_eq!(out.status.code(), Some(1), "the last owner stays");
    assert!(
        text(&out.stderr).contains("last owner"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "member",
        "remove",
        "--tenant",
        "Acme",
        "--email",
        "olga@acme.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[
        "member",
        "remove",
        "--tenant",
        "Acme",
        "--email",
        "nobody@acme.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("member not found"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&[
        "member",
        "remove",
        "--tenant",
        "Acme",
        "--email",
        "ada@acme.example",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list = text(&run(&["member", "list", "--tenant", "Acme"]).stdout);
    assert!(
        list.contains("olga@acme.example") && !list.contains("ada@acme.example"),
        "{list}"
    );
    // Someone with an account elsewhere joins by invitation, keeping their password.
    run(&["tenant", "create", "--name", "Globex"]);
    let out = run(&[
        "member",
        "add",
        "--tenant",
        "Globex",
        "--email",
        "olga@acme.example",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("invite it"),
        "{}",
        text(&out.stderr)
    );

    // The trail names the operator for each change.
    let app = crate::common::TestApp::start_on(db).await;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT actor, action, object FROM audit_log ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let expected = [
        ("operator", "member.invited", "vic@acme.example"),
        ("operator", "member.role_changed", "ada@acme.example"),
        ("operator", "member.removed", "ada@acme.example"),
    ];
    let rows: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(rows, expected);
}

/// Every `portal` command the documentation shows exists, with every flag
/// it shows: its `--help` answers and names them.
#[test]
fn every_command_in_the_docs_exists_with_its_flags() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    let text_of_docs = std::fs::read_to_string(&docs).unwrap();
    let is_word = |t: &str| {
        t.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && t.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    };
    let mut checked = 0;
    for line in text_of_docs.lines().filter(|l| l.starts_with("portal ")) {
        let line = line.split(" #").next().unwrap();
        let words: Vec<&str> = line.split_whitespace().skip(1).collect();
        let path: Vec<&str> = words.iter().copied().take_while(|w| is_word(w)).collect();
        // `keys rotate | retire | list`: each alternative is a command.
        let mut commands = vec![path.clone()];
        for alternative in words[path.len()..].windows(2) {
            if alternative[0] == "|" && is_word(alternative[1]) {
                let mut other = path[..path.len() - 1].to_vec();
                other.push(alternative[1]);
                commands.push(other);
            }
        }
        let flags: Vec<&str> = words
            .iter()
            .map(|w| w.trim_matches(['[', ']']))
            .filter(|w| w.starts_with("--"))
            .map(|w| w.split('=').next().unwrap())
            .collect();
        for command in commands {
            let out = Command::new(env!("CARGO_BIN_EXE_portal"))
                .args(&command)
                .arg("--help")
                .output()
                .unwrap();
            let help = text(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "portal {command:?} --help");
            for flag in &flags {
                assert!(
                    help.contains(flag),
                    "portal {command:?} lacks {flag}:\n{help}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 15,
        "only {checked} commands found in {}",
        docs.display()
    );
}
