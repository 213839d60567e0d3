//! The Tier & Billing page's usage against limits, and the banner across the
//! portal: the numbers are the ones enforcement counts.

use app::domain::metering::Counts;
use app::domain::Clock;
use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::common::{record_past_hour, TestApp};
use crate::on_both_backends;
use crate::signup::{get, post};

on_both_backends!(
    TestApp =>
    a_free_tenant_sees_usage_against_its_limits,
    a_used_up_limit_is_red_and_enterprise_is_unlimited,
);

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

/// The `<li>` of one limit, from its opening tag to its end.
fn limit<'a>(html: &'a str, key: &str) -> &'a str {
    let start = html.find(&format!("data-testid=\"limit-{key}\"")).unwrap();
    let rest = &html[start..];
    &rest[..rest.find("</li>").unwrap()]
}

fn amount(item: &str) -> &str {
    text_of(item, "amount")
}

/// A limit's note as read: its text with the markup taken out; `None`
/// when it has none.
fn note(item: &str) -> Option<String> {
    let at = item.find("data-testid=\"limit-note\"")?;
    let rest = &item[at..];
    let inner = &rest[rest.find('>').unwrap() + 1..rest.find("</p>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text)
}

/// The text right inside the element with this test id.
fn text_of<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!("data-testid=\"{id}\"")).unwrap();
    let item = html;
    let rest = &item[at..];
    rest[rest.find('>').unwrap() + 1..]
        .split('<')
        .next()
        .unwrap()
}

async fn used_today(app: &TestApp, tenant: &str, agent: &str, tokens: i64, api_calls: i64) {
    record_past_hour(
        &app.db,
        tenant,
        agent,
        app.clock.now(),
        Counts {
            tokens_issued: tokens,
            api_calls,
            refused: 0,
        },
    )
    .await;
}

async fn a_free_tenant_sees_usage_against_its_limits(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "reports:read").await;
    app.agent(&tenant, "reports:read").await;
    used_today(&app, &tenant, &id, 850, 100).await;
    let client = app
        .signed_in(&tenant, "admin@northwind.test", Role::Admin)
        .await;

    let html = page(&client, &app, "/settings/tier").await;
    assert_eq!(text_of(&html, "plan-name"), "Free");
    let tokens = limit(&html, "tokens");
    assert_eq!(amount(tokens), "850 of 1,000");
    assert!(tokens.contains("data-level=\"warning\""));
    let tokens_note = note(tokens).unwrap();
    assert!(
        tokens_note.starts_with("85 % · nearly used up · Resets at 00:00 UTC, in "),
        "{tokens_note}"
    );
    let agents = limit(&html, "agents");
    assert_eq!(amount(agents), "2 of 10");
    assert!(agents.contains("data-level=\"normal\""));
    assert_eq!(
        note(agents).as_deref(),
        Some("20 %"),
        "the agent limit is not daily"
    );
    assert_eq!(amount(limit(&html, "api_calls")), "100 of 1,000");
    assert!(html.contains("data-testid=\"pro-offer\""));
    assert!(html.contains("50,000 token issuances per day"));

    // The banner shows on every page, with the same rule as the bars.
    let html = page(&client, &app, "/analytics").await;
    assert!(html.contains("data-testid=\"quota-banner\""));
    assert!(html.contains("Token issuances today: 850 of 1,000 (85 %)"));
    assert!(
        !html.contains("API calls today:"),
        "10 % is no reason to warn"
    );
    // Also on the page a form post answers with, and on the 404 page.
    let zone = [("time_zone", "Mars/Olympus_Mons")];
    let (status, html) = post(&app, &client, "/analytics/time-zone", &zone).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not a time zone name"));
    assert!(html.contains("Token issuances today: 850 of 1,000 (85 %)"));
    let (status, html) = get(&app, &client, "/no-such-page").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("Token issuances today: 850 of 1,000 (85 %)"));

    // What the page shows is what enforcement counts.
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-ratelimit-limit"], "1000");
    assert_eq!(res.headers()["x-ratelimit-remaining"], "149");
    let html = page(&client, &app, "/settings/tier").await;
    assert_eq!(amount(limit(&html, "tokens")), "851 of 1,000");

    // Viewers see the page too.
    let viewer = app
        .signed_in(&tenant, "viewer@northwind.test", Role::Viewer)
        .await;
    let html = page(&viewer, &app, "/settings/tier").await;
    assert_eq!(amount(limit(&html, "tokens")), "851 of 1,000");
}

async fn a_used_up_limit_is_red_and_enterprise_is_unlimited(app: TestApp) {
    let free = app.tenant("Northwind", Tier::Free).await;
    let (id, secret) = app.agent(&free, "reports:read").await;
    used_today(&app, &free, &id, 1_000, 0).await;
    let client = app
        .signed_in(&free, "admin@northwind.test", Role::Admin)
        .await;
    let html = page(&client, &app, "/settings/tier").await;
    let tokens = limit(&html, "tokens");
    assert!(tokens.contains("data-level=\"exhausted\""));
    assert!(tokens.contains("used up"));
    assert!(html.contains("Token issuances today: all 1,000 used"));
    let res = app.token(&id, &secret, None).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    let enterprise = app.tenant("Globex", Tier::Enterprise).await;
    let (gid, _) = app.agent(&enterprise, "reports:read").await;
    used_today(&app, &enterprise, &gid, 1_000_000, 0).await;
    let client = app
        .signed_in(&enterprise, "owner@globex.test", Role::Owner)
        .await;
    let html = page(&client, &app, "/settings/tier").await;
    assert!(html.contains("Enterprise — Unlimited"));
    let tokens = limit(&html, "tokens");
    assert_eq!(amount(tokens), "1,000,000 · unlimited");
    let tokens_note = note(tokens).unwrap();
    assert!(
        tokens_note.starts_with("Resets at 00:00 UTC, in "),
        "no percentage to follow: {tokens_note}"
    );
    assert_eq!(note(limit(&html, "agents")), None, "nothing to say of it");
    assert!(!html.contains("data-testid=\"pro-offer\""));
    assert!(!html.contains("data-testid=\"quota-banner\""));
    assert!(!html.contains("Upgrade"));
}
