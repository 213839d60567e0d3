//! Guessing at the token endpoints is throttled: failed client
//! authentications are counted per client id and address, per client id and
//! per address; past a limit, 429 with `Retry-After`, the right secret
//! included, until the window ends. A former secret throttles only itself.

use app::domain::agents::failed_auth::{
    FORMER_PER_CLIENT_AND_ADDRESS, PER_ADDRESS, PER_CLIENT, PER_CLIENT_AND_ADDRESS,
};
use app::domain::sign_in::WINDOW_SECS;
use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::agents_pages::test_id;
use crate::common::{behind_a_proxy, http_client, Backend, TestApp, TestDb};
use crate::on_both_backends;
use crate::signup::{get, post};

on_both_backends!(
    TestDb =>
    guesses_stop_at_the_limit_and_then_even_the_right_secret_waits,
    racing_guesses_get_no_more_wrong_answers_than_the_limit,
    one_address_guessing_many_agents_is_throttled_without_locking_out_its_agents,
    many_addresses_guessing_one_agent_are_throttled_without_locking_it_out,
    a_copy_on_a_former_secret_never_locks_out_the_copies_that_switched,
    the_agent_page_shows_failed_authentications,
);

const GUESSER: &str = "203.0.113.66";
const AGENT_HOST: &str = "198.51.100.7";

/// `POST /api/v1/token` from `address`.
async fn token_from(app: &TestApp, address: &str, id: &str, secret: &str) -> reqwest::Response {
    http_client()
        .post(app.url("/api/v1/token"))
        .header("x-forwarded-for", address)
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

async fn status_from(app: &TestApp, address: &str, id: &str, secret: &str) -> StatusCode {
    token_from(app, address, id, secret).await.status()
}

fn guess(i: i64) -> String {
    format!("ais_not-the-secret-{i}")
}

async fn guesses_stop_at_the_limit_and_then_even_the_right_secret_waits(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "jobs:run").await;
    for i in 0..PER_CLIENT_AND_ADDRESS {
        let res = token_from(&app, GUESSER, &id, &guess(i)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let refused = token_from(&app, GUESSER, &id, &guess(99)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=WINDOW_SECS).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "slow_down", "{body}");

    // The right secret from the guesser's address waits too: a 200 among
    // the 429s would tell a guesser when it was right.
    assert_eq!(
        status_from(&app, GUESSER, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let introspection = http_client()
        .post(app.url("/api/v1/token/introspect"))
        .header("x-forwarded-for", GUESSER)
        .basic_auth(&id, Some(&secret))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(introspection.status(), StatusCode::TOO_MANY_REQUESTS);
    // The agent itself, from its own host, goes on.
    assert_eq!(
        status_from(&app, AGENT_HOST, &id, &secret).await,
        StatusCode::OK
    );
    // Until the window ends, and not a second longer.
    app.clock.advance(retry_after - 1);
    assert_eq!(
        status_from(&app, GUESSER, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(1);
    assert_eq!(
        status_from(&app, GUESSER, &id, &secret).await,
        StatusCode::OK
    );
}

/// Forty wrong secrets at once: exactly the limit of them are answered
/// "wrong", whatever their order.
async fn racing_guesses_get_no_more_wrong_answers_than_the_limit(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, _) = app.agent(&tenant, "jobs:run").await;
    let guesses = (0..40).map(|i| {
        let (app, id) = (&app, &id);
        async move { status_from(app, GUESSER, id, &guess(i)).await }
    });
    let statuses = futures::future::join_all(guesses).await;
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let slowed = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(
        (wrong, slowed),
        (
            PER_CLIENT_AND_ADDRESS as usize,
            40 - PER_CLIENT_AND_ADDRESS as usize
        ),
        "{statuses:?}"
    );
}

/// One address (a NAT the agent shares, say) trying client ids that do
/// not exist: its failures are refused; the agent's right secret from
/// there still works, until the agent itself fails from there.
async fn one_address_guessing_many_agents_is_throttled_without_locking_out_its_agents(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "jobs:run").await;
    let made_up = |i: i64| uuid::Uuid::from_u128(i as u128 + 1).to_string();
    for i in 0..PER_ADDRESS {
        assert_eq!(
            status_from(&app, GUESSER, &made_up(i), &guess(i)).await,
            StatusCode::UNAUTHORIZED,
            "guess {i}"
        );
    }
    assert_eq!(
        status_from(&app, GUESSER, &made_up(99), &guess(0)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_from(&app, GUESSER, &id, &secret).await,
        StatusCode::OK,
        "an agent that never failed from there is not locked out"
    );
    // A wrong secret for the agent from there: refused, and counted, so
    // that its right secret no longer answers there either.
    assert_eq!(
        status_from(&app, GUESSER, &id, &guess(0)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_from(&app, GUESSER, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_from(&app, AGENT_HOST, &id, &secret).await,
        StatusCode::OK
    );
    // Made-up client ids leave no counter of their own behind.
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM sign_in_counters")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| !k.contains(&made_up(0))), "{keys:?}");
}

/// Guesses at one agent from many addresses: past the client id's limit
/// every failure is refused wherever it comes from, and the right secret
/// from the addresses that failed; the agent's own host is not locked out.
async fn many_addresses_guessing_one_agent_are_throttled_without_locking_it_out(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "jobs:run").await;
    let addresses = PER_CLIENT / PER_CLIENT_AND_ADDRESS;
    for a in 0..addresses {
        let from = format!("203.0.113.{}", a + 1);
        for i in 0..PER_CLIENT_AND_ADDRESS {
            assert_eq!(
                status_from(&app, &from, &id, &guess(i)).await,
                StatusCode::UNAUTHORIZED,
                "{from}, guess {i}"
            );
        }
    }
    let fresh = "203.0.113.200";
    assert_eq!(
        status_from(&app, fresh, &id, &guess(0)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the client id's limit is used up"
    );
    assert_eq!(
        status_from(&app, fresh, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS,
        "an address that failed gets no answer from the right secret"
    );
    assert_eq!(
        status_from(&app, AGENT_HOST, &id, &secret).await,
        StatusCode::OK
    );
    // IPv6 counts by the /64: another address of the same host is the same.
    let v6 = |host: u16| format!("2001:db8:0:7::{host:x}");
    for i in 0..PER_CLIENT_AND_ADDRESS {
        status_from(&app, &v6(i as u16 + 1), &id, &guess(i)).await;
    }
    assert_eq!(
        status_from(&app, &v6(999), &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// After a rotation's window, one copy keeps presenting the old secret:
/// it is told so (401), then throttled, while the copies on the same host
/// that switched keep getting tokens, and no guessing budget is spent.
async fn a_copy_on_a_former_secret_never_locks_out_the_copies_that_switched(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, old) = app.agent(&tenant, "jobs:run").await;
    let admin = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let (status, html) = post(
        &app,
        &admin,
        &format!("/agents/{id}/rotate"),
        &[("overlap", "1h")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let new = test_id(&html, "client-secret").unwrap();
    app.clock.advance(3600);

    let res = token_from(&app, AGENT_HOST, &id, &old).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let said = body["error_description"].as_str().unwrap();
    let old_label = format!("ais_…{}", &old[old.len() - 4..]);
    assert!(
        said.contains(&old_label) && said.contains("current secret"),
        "{said}"
    );
    for _ in 1..FORMER_PER_CLIENT_AND_ADDRESS + 5 {
        token_from(&app, AGENT_HOST, &id, &old).await;
    }
    assert_eq!(
        status_from(&app, AGENT_HOST, &id, &old).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_from(&app, AGENT_HOST, &id, &new).await,
        StatusCode::OK
    );
    // No guess was counted: the host still has its whole budget for them.
    for i in 0..PER_CLIENT_AND_ADDRESS {
        assert_eq!(
            status_from(&app, AGENT_HOST, &id, &guess(i)).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

async fn the_agent_page_shows_failed_authentications(db: TestDb) {
    let app = TestApp::start_behind_proxy(db).await;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, _) = app.agent(&tenant, "jobs:run").await;
    let viewer = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let (_, html) = get(&app, &viewer, &format!("/agents/{id}")).await;
    assert!(!html.contains("Failed authentications"), "none yet");

    for i in 0..PER_CLIENT_AND_ADDRESS + 3 {
        token_from(&app, GUESSER, &id, &guess(i)).await;
        app.clock.advance(1);
    }
    let (status, html) = get(&app, &viewer, &format!("/agents/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let reasons: Vec<&str> = html
        .split("data-testid=\"auth-failure\" data-reason=\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    // Newest first: the throttle once, then each counted failure; the
    // refused ones after it wrote nothing.
    let mut expected = vec!["throttled"];
    expected.extend(std::iter::repeat_n(
        "wrong_secret",
        PER_CLIENT_AND_ADDRESS as usize,
    ));
    assert_eq!(reasons, expected);
    assert!(html.contains(GUESSER));
    assert!(
        html.contains("too many failures from this address: its requests are refused, the right secret too; ends in 15 min"),
        "the throttle says what it refuses and for how long"
    );
    assert_eq!(
        test_id(&html, "auth-failures-summary")
            .unwrap()
            .split(" in the last 24 hours")
            .next(),
        Some(PER_CLIENT_AND_ADDRESS.to_string().as_str())
    );
    // Another tenant's agent page never shows them.
    let other = app.tenant("Other", Tier::Pro).await;
    let stranger = app
        .signed_in(&other, "sam@other.example", Role::Owner)
        .await;
    let (status, _) = get(&app, &stranger, &format!("/agents/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Failures counted on one instance throttle the right secret on another
/// (PostgreSQL: several instances share one database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_holds_on_every_instance() {
    let Some(db) = TestDb::start(Backend::Postgres).await else {
        return;
    };
    let first = TestApp::start_behind_proxy(db).await;
    let second = first.another_instance(behind_a_proxy).await;
    let tenant = first.tenant("Acme", Tier::Pro).await;
    let (id, secret) = first.agent(&tenant, "jobs:run").await;
    for i in 0..PER_CLIENT_AND_ADDRESS {
        // Alternating: the count is one, whichever instance answers.
        let app = if i % 2 == 0 { &first } else { &second };
        assert_eq!(
            status_from(app, GUESSER, &id, &guess(i)).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        status_from(&first, GUESSER, &id, &guess(99)).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The second instance learns of it within a refresh.
    tokio::time::sleep(app::domain::agents::failed_auth::BLOCKS_REFRESH * 2).await;
    assert_eq!(
        status_from(&second, GUESSER, &id, &secret).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_from(&second, AGENT_HOST, &id, &secret).await,
        StatusCode::OK
    );
}
