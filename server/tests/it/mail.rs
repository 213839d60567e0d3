//! The outbox: delivery in the background, retries, restarts, no repeats.

use app::domain::outbox::{self, Outbox};
use app::domain::Clock;
use reqwest::StatusCode;

use crate::common::{closed_port, spawn_serve, MailCatcher, TestApp, TestDb};
use crate::on_both_backends;
use crate::signup::sign_up;

on_both_backends!(
    TestDb =>
    a_failed_delivery_is_retried_with_backoff_and_shown_to_operators,
    queued_mail_survives_a_restart,
    two_instances_send_each_message_once,
);

on_both_backends!(
    TestApp =>
    due_mail_is_claimed_oldest_first,
    mail_that_does_not_open_is_given_up,
);

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..150 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn a_failed_delivery_is_retried_with_backoff_and_shown_to_operators(db: TestDb) {
    let reserved = closed_port();
    let port = reserved.local_addr().unwrap().port();
    let app = TestApp::start_configured(db, move |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await;
    let (status, _) = sign_up(&app, "Initech", "grace@initech.example").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the request does not wait for the mail server"
    );
    wait_until("the first attempt failed", async || {
        outbox::status(&app.db).await.unwrap().retrying == 1
    })
    .await;
    let status = outbox::status(&app.db).await.unwrap();
    assert_eq!((status.pending, status.sent, status.failed), (1, 0, 0));
    let (to, attempts, error, _) = &status.recent_failures[0];
    assert_eq!((to.as_str(), *attempts), ("grace@initech.example", 1));
    assert!(!error.is_empty());
    // `portal mail status` shows it to operators.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["mail", "status"])
        .env("DATABASE_URL", &app.test_db().url)
        .env("PORTAL_MASTER_KEY_FILE", app.key_file())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&cli.stdout);
    assert!(
        out.contains("retrying  1") && out.contains("grace@initech.example"),
        "{out}"
    );

    // The server comes up; nothing happens before the backoff is over.
    let listener = reserved.listen(16).unwrap().into_std().unwrap();
    listener.set_nonblocking(false).unwrap();
    let catcher = MailCatcher::start_on(listener);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        catcher.to("grace@initech.example").is_empty(),
        "still backing off"
    );
    app.clock.advance(outbox::backoff_secs(1));
    let mail = catcher.nth("grace@initech.example", 1).await;
    assert!(mail.subject().contains("Verify your e-mail"));
    wait_until("the row is marked sent", async || {
        outbox::status(&app.db).await.unwrap().sent == 1
    })
    .await;
}

/// A message waiting in the outbox survives a restart, and holds no link a
/// copy of the database could use: its bodies are sealed until sent.
async fn queued_mail_survives_a_restart(db: TestDb) {
    let reserved = closed_port();
    let port = reserved.local_addr().unwrap().port();
    let app = TestApp::start_configured(db, move |c| {
        c.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
    })
    .await;
    sign_up(&app, "Initech", "grace@initech.example").await;
    wait_until("an attempt failed", async || {
        outbox::status(&app.db).await.unwrap().retrying == 1
    })
    .await;
    let stored: (String, String, String) =
        sqlx::query_as("SELECT subject, text_body, html_body FROM mail_outbox")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(stored.0.contains("Verify your e-mail"), "{stored:?}");
    for body in [&stored.1, &stored.2] {
        assert!(!body.contains("token") && !body.contains("grace"), "{body}");
    }
    let db = app.stop();
    let catcher = MailCatcher::start();
    let url = catcher.smtp_url();
    let app = TestApp::start_configured(db, move |c| c.smtp_url = Some(url)).await;
    app.clock.advance(outbox::backoff_secs(1));
    let mail = catcher.nth("grace@initech.example", 1).await;
    assert!(mail.subject().contains("Verify your e-mail"));
    // The link, opened from the sealed body, works.
    let token = mail.token("/verify-email");
    assert!(!stored.1.contains(&token) && !stored.2.contains(&token));
    let res = app
        .client()
        .get(format!("{}/verify-email?token={token}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Initech"));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(catcher.to("grace@initech.example").len(), 1, "sent once");
}

/// A body that does not open with this portal's keys (written by someone
/// with access to the database, or another portal's) is not sent, and is
/// given up on at once rather than retried.
async fn mail_that_does_not_open_is_given_up(app: TestApp) {
    let later = app.clock.now() + 86_400;
    let theirs = Outbox::new(&app.base, &other_keys(&app));
    let mut conn = app.db.pool.acquire().await.unwrap();
    theirs
        .enqueue(&mut conn, &message("theirs"), later)
        .await
        .unwrap();
    outbox(&app)
        .enqueue(&mut conn, &message("ours"), later)
        .await
        .unwrap();
    // Ours, sent to someone else: the body is bound to its recipient.
    outbox(&app)
        .enqueue(&mut conn, &message("redirected"), later)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE mail_outbox SET recipient = 'mallory@evil.example' WHERE subject = 'redirected'",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    // Written in the clear into the database, and one the upgrade found
    // waiting in the clear (queued by the version before sealing).
    for (subject, before_sealing) in [("planted", 0), ("from before", 1)] {
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, text_body, html_body, created_at, \
             next_attempt_at, queued_in_clear) VALUES ($1, 'grace@initech.example', $2, 'text', \
             '<p>text</p>', $3, $3, $4)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(subject)
        .bind(later)
        .bind(before_sealing)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let claimed = outbox(&app).claim_due(&app.db, later, 20).await.unwrap();
    let mut subjects: Vec<&str> = claimed.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort();
    assert_eq!(subjects, ["from before", "ours"]);
    assert!(claimed.iter().all(|m| m.text_body == "text"));
    assert_eq!(outbox::status(&app.db).await.unwrap().failed, 3);
}

fn outbox(app: &TestApp) -> Outbox {
    Outbox::new(&app.base, &app.keys.get())
}

/// Keys of another portal's database.
fn other_keys(app: &TestApp) -> app::domain::keys::ServerKeys {
    let mut keys = (*app.keys.get()).clone();
    keys.secret_hash_key = [7; 32];
    keys
}

fn message(subject: &str) -> outbox::Message {
    outbox::Message {
        to: "grace@initech.example".into(),
        subject: subject.into(),
        text: "text".into(),
        html: "<p>text</p>".into(),
    }
}

async fn two_instances_send_each_message_once(db: TestDb) {
    let catcher = MailCatcher::start();
    let url = catcher.smtp_url();
    let app = TestApp::start_configured(db, move |c| c.smtp_url = Some(url)).await;
    // A second instance on the same database, sending to the same server.
    let (mut second, _, up) =
        spawn_serve(app.test_db(), &[("SMTP_URL", &catcher.smtp_url())], &[]).await;
    assert!(up, "the second instance serves");
    let n = app::domain::signup::PER_CLIENT as usize;
    for i in 0..n {
        sign_up(&app, &format!("Org {i}"), &format!("p{i}@x.example")).await;
    }
    wait_until("everything is sent", async || {
        outbox::status(&app.db).await.unwrap().sent == n as i64
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for i in 0..n {
        assert_eq!(catcher.to(&format!("p{i}@x.example")).len(), 1, "p{i} once");
    }
    second.kill().unwrap();
    second.wait().unwrap();
}

// Mail goes out in the order it fell due, whatever order its rows were
// written in (an invitation before its resend).
async fn due_mail_is_claimed_oldest_first(app: TestApp) {
    // Later than the app's clock: its own delivery task leaves them alone.
    let later = app.clock.now() + 86_400;
    let mut conn = app.db.pool.acquire().await.unwrap();
    for (subject, at) in [
        ("third", later + 30),
        ("first", later + 10),
        ("second", later + 20),
    ] {
        outbox(&app)
            .enqueue(&mut conn, &message(subject), at)
            .await
            .unwrap();
    }
    let claimed = outbox(&app)
        .claim_due(&app.db, later + 60, 20)
        .await
        .unwrap();
    let subjects: Vec<&str> = claimed.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["first", "second", "third"]);
}
