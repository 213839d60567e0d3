//! The Analytics page, its CSV downloads and the analytics API: the same
//! numbers everywhere, in the tenant's time zone, for that tenant only.

use app::domain::metering::Counts;
use app::domain::{agents, tenants, Clock};
use app::model::{AgentStatus, Role, Tier};
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{record_past_hour, TestApp};
use crate::on_both_backends;
use crate::signup::get;

on_both_backends!(
    TestApp =>
    the_api_and_the_page_show_the_same_numbers,
    days_outside_1_to_90_are_refused_by_the_api,
    activity_is_bucketed_in_the_tenant_zone,
    the_month_table_keeps_used_decommissioned_agents,
    csv_downloads_carry_what_the_page_shows,
    the_time_zone_setting_validates_and_applies,
    tenants_never_see_each_other,
    a_tenant_without_usage_gets_a_first_step,
    the_agent_table_sorts_filters_and_pages,
    new_usage_is_on_the_page_within_two_seconds,
    an_unlimited_tenant_s_tokens_are_on_the_page_within_two_seconds,
    pages_come_gzipped_to_a_browser_that_accepts_it,
    fewer_refusals_are_the_good_news_on_the_cards,
);

async fn bearer(app: &TestApp, id: &str, secret: &str) -> String {
    let res = app.token(id, secret, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn api(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    res.text().await.unwrap()
}

async fn past(app: &TestApp, tenant: &str, agent: &str, seconds_ago: i64, tokens: i64) {
    record_past_hour(
        &app.db,
        tenant,
        agent,
        app.clock.now() - seconds_ago,
        Counts {
            tokens_issued: tokens,
            api_calls: 2,
            refused: 0,
        },
    )
    .await;
}

/// Every `data-count` of the trend chart's points, in order.
fn trend_counts(html: &str) -> Vec<u64> {
    html.split("<circle")
        .skip(1)
        .map(|chunk| &chunk[..chunk.find('>').unwrap()])
        .filter(|tag| tag.contains("trend-point"))
        .map(|tag| {
            let at = tag.find("data-count=\"").unwrap() + "data-count=\"".len();
            tag[at..].split('"').next().unwrap().parse().unwrap()
        })
        .collect()
}

fn card_value(html: &str, key: &str) -> String {
    let start = html.find(&format!("data-testid=\"card-{key}\"")).unwrap();
    let rest = &html[start..];
    let at = rest.find("data-testid=\"value\"").unwrap();
    let rest = &rest[at..];
    rest[rest.find('>').unwrap() + 1..]
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

async fn the_api_and_the_page_show_the_same_numbers(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "reports:read analytics:read").await;
    past(&app, &tenant, &id, 3 * 86_400, 40).await;
    past(&app, &tenant, &id, 6 * 86_400, 7).await;
    // Older than 7 days: only in the previous period.
    past(&app, &tenant, &id, 9 * 86_400, 100).await;
    // Five tokens through the real endpoint today (the last is the bearer).
    let mut token = String::new();
    for _ in 0..5 {
        token = bearer(&app, &id, &secret).await;
    }

    let res = api(&app, &token, "/api/v1/analytics/tokens?days=7").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-ratelimit-remaining"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["tenant_id"], tenant.as_str());
    assert_eq!(body["days"], 7);
    assert_eq!(body["time_zone"], "UTC");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 7);
    let counts: Vec<u64> = data.iter().map(|d| d["count"].as_u64().unwrap()).collect();
    assert_eq!(counts[6], 5, "today");
    assert_eq!(counts.iter().sum::<u64>(), 52);
    let dates: Vec<&str> = data.iter().map(|d| d["date"].as_str().unwrap()).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "ascending");

    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let html = page(&client, &app, "/analytics?days=7").await;
    assert_eq!(trend_counts(&html), counts);
    assert_eq!(card_value(&html, "tokens"), "52");
    assert_eq!(card_value(&html, "active_agents"), "1");
    assert!(html.contains("Analytics</h1>"));
    assert!(html.contains("<leptos-island"), "charts are islands");

    // The default range is 30 days and includes the older usage.
    let body: Value = api(&app, &token, "/api/v1/analytics/tokens")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["days"], 30);
    assert_eq!(body["data"].as_array().unwrap().len(), 30);
    let html = page(&client, &app, "/analytics").await;
    assert_eq!(card_value(&html, "tokens"), "152");
}

async fn days_outside_1_to_90_are_refused_by_the_api(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "reports:read analytics:read").await;
    let token = bearer(&app, &id, &secret).await;
    for bad in ["0", "91", "-1", "seven", "", "3.5"] {
        for endpoint in ["tokens", "activity"] {
            let res = api(
                &app,
                &token,
                &format!("/api/v1/analytics/{endpoint}?days={bad}"),
            )
            .await;
            assert_eq!(
                res.status(),
                StatusCode::BAD_REQUEST,
                "{endpoint} days={bad}"
            );
            let body: Value = res.json().await.unwrap();
            assert!(
                body["message"].as_str().unwrap().contains("1 to 90"),
                "{body}"
            );
        }
    }
    let res = api(&app, &token, "/api/v1/analytics/tokens?days=90").await;
    assert_eq!(res.status(), StatusCode::OK);
    // Without a token there is nothing to see.
    let res = app
        .client()
        .get(app.url("/api/v1/analytics/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The page does not fail on a bad range: it says what it shows instead.
    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let html = page(&client, &app, "/analytics?days=365").await;
    assert!(html.contains("Showing 30 days"));
}

async fn activity_is_bucketed_in_the_tenant_zone(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    app.set_time_zone(&tenant, "Asia/Tokyo").await;
    let (id, secret) = app.agent(&tenant, "reports:read analytics:read").await;
    let token = bearer(&app, &id, &secret).await;
    let when = app.clock.now() - 2 * 86_400;
    record_past_hour(
        &app.db,
        &tenant,
        &id,
        when,
        Counts {
            tokens_issued: 30,
            api_calls: 12,
            refused: 1,
        },
    )
    .await;
    let local = time::OffsetDateTime::from_unix_timestamp(when)
        .unwrap()
        .to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap());
    let weekday = local.weekday().number_days_from_sunday() as u64;
    let hour = local.hour() as u64;

    let body: Value = api(&app, &token, "/api/v1/analytics/activity?days=7")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["time_zone"], "Asia/Tokyo");
    assert_eq!(body["weekdays"][0], "Sunday");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 168);
    let busy: Vec<&Value> = data
        .iter()
        .filter(|c| c["count"].as_u64().unwrap() > 0)
        .collect();
    // The history hour, plus today's token request.
    let cell = busy
        .iter()
        .find(|c| c["weekday"] == weekday && c["hour"] == hour)
        .expect("the hour lands on its Tokyo weekday and hour");
    assert_eq!(cell["count"], 42);

    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let html = page(&client, &app, "/analytics?days=7").await;
    assert_eq!(html.matches("class=\"heat-cell").count(), 168);
    // A cell's place is its weekday and hour: weekday * 24 + hour.
    let place = (weekday * 24 + hour) as usize;
    let tag = html
        .split("<rect ")
        .nth(place + 1)
        .expect("the cell is drawn");
    assert!(tag[..tag.find('>').unwrap()].contains("data-count=\"42\""));
    assert!(html.contains("data-testid=\"heatmap-zone\">Asia/Tokyo<"));
}

async fn the_month_table_keeps_used_decommissioned_agents(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (used, used_secret) = app.agent(&tenant, "reports:read analytics:read").await;
    let (idle, _) = app.agent(&tenant, "reports:read analytics:read").await;
    let (reader, reader_secret) = app.agent(&tenant, "reports:read analytics:read").await;
    for _ in 0..3 {
        bearer(&app, &used, &used_secret).await;
    }
    app.set_agent_status(&tenant, &used, AgentStatus::Decommissioned)
        .await
        .unwrap();
    app.set_agent_status(&tenant, &idle, AgentStatus::Decommissioned)
        .await
        .unwrap();
    let token = bearer(&app, &reader, &reader_secret).await;

    let body: Value = api(&app, &token, "/api/v1/analytics/agents")
        .await
        .json()
        .await
        .unwrap();
    let rows = body["data"].as_array().unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["agent_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&used.as_str()),
        "decommissioned but used this month"
    );
    assert!(!ids.contains(&idle.as_str()), "decommissioned and idle");
    let used_row = rows
        .iter()
        .find(|r| r["agent_id"] == used.as_str())
        .unwrap();
    assert_eq!(used_row["tokens_issued"], 3);
    assert_eq!(used_row["status"], "decommissioned");
    assert!(used_row["last_activity_at"].as_i64().is_some());
    assert!(body["month"].as_str().unwrap().len() == 7);

    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let html = page(&client, &app, "/analytics").await;
    assert_eq!(html.matches("data-testid=\"agent-usage-row\"").count(), 2);
    assert!(html.contains(&format!("data-agent-id=\"{used}\"")));
    assert!(!html.contains(&format!("data-agent-id=\"{idle}\"")));
}

async fn csv_downloads_carry_what_the_page_shows(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "reports:read analytics:read").await;
    for _ in 0..4 {
        bearer(&app, &id, &secret).await;
    }
    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;

    let res = client
        .get(app.url("/analytics/export/daily.csv?days=7&compare=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("token-trend-7d-"), "{disposition}");
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "date,tokens_issued,api_calls,refused,previous_date,previous_tokens_issued"
    );
    assert_eq!(lines.len(), 8);
    assert!(lines[7].split(',').nth(1) == Some("4"), "{}", lines[7]);

    let res = client
        .get(app.url("/analytics/export/agents.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("agent-usage-20"), "{disposition}");
    let csv = res.text().await.unwrap();
    let row = csv.lines().find(|l| l.starts_with(&id)).unwrap();
    assert_eq!(row.split(',').nth(4), Some("4"));

    let res = client
        .get(app.url("/analytics/export/daily.csv?days=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Signed out: to the sign-in page, not a file.
    let res = app
        .client()
        .get(app.url("/analytics/export/agents.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

async fn the_time_zone_setting_validates_and_applies(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let admin = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let post = |client: &reqwest::Client, zone: &str| {
        client
            .post(app.url("/analytics/time-zone"))
            .header("origin", app.base.as_str())
            .form(&[("time_zone", zone)])
            .send()
    };
    let res = post(&admin, "Mars/Olympus_Mons").await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("is not a time zone name"));
    assert!(
        html.contains("value=\"Mars/Olympus_Mons\""),
        "the input is kept"
    );
    assert_eq!(
        tenants::get(&app.db, &tenant).await.unwrap().time_zone,
        "UTC"
    );

    let res = post(&admin, "Europe/Berlin").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        tenants::get(&app.db, &tenant).await.unwrap().time_zone,
        "Europe/Berlin"
    );
    let html = page(&admin, &app, "/analytics").await;
    assert!(html.contains("data-testid=\"tenant-zone\">Europe/Berlin<"));

    let viewer = app
        .signed_in(&tenant, "viewer@acme.test", Role::Viewer)
        .await;
    let res = post(&viewer, "UTC").await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = admin
        .post(app.url("/analytics/time-zone"))
        .header("origin", "https://evil.example")
        .form(&[("time_zone", "UTC")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        tenants::get(&app.db, &tenant).await.unwrap().time_zone,
        "Europe/Berlin"
    );
}

async fn tenants_never_see_each_other(app: TestApp) {
    let acme = app.tenant("Acme", Tier::Pro).await;
    let globex = app.tenant("Globex", Tier::Pro).await;
    let (acme_agent, acme_secret) = app.agent(&acme, "reports:read analytics:read").await;
    let (globex_agent, globex_secret) = app.agent(&globex, "reports:read analytics:read").await;
    for _ in 0..6 {
        bearer(&app, &acme_agent, &acme_secret).await;
    }
    let token = bearer(&app, &globex_agent, &globex_secret).await;

    let body: Value = api(&app, &token, "/api/v1/analytics/tokens?days=7")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["tenant_id"], globex.as_str());
    let total: u64 = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 1, "only Globex's own token");
    let body: Value = api(&app, &token, "/api/v1/analytics/agents")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [globex_agent.as_str()]);

    let client = app
        .signed_in(&globex, "admin@globex.test", Role::Admin)
        .await;
    let html = page(&client, &app, "/analytics?days=7").await;
    assert_eq!(card_value(&html, "tokens"), "1");
    assert!(!html.contains(&acme_agent));
    let csv = get(&app, &client, "/analytics/export/agents.csv").await.1;
    assert!(!csv.contains(&acme_agent));
}

async fn a_tenant_without_usage_gets_a_first_step(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Free).await;
    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let html = page(&client, &app, "/analytics").await;
    assert!(html.contains("data-testid=\"analytics-empty\""));
    assert!(html.contains("grant_type=client_credentials"));
    assert!(html.contains(&format!("{}/api/v1/token", app.base)));
}

async fn the_agent_table_sorts_filters_and_pages(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Enterprise).await;
    let keys = app.keys.get();
    let mut ids = Vec::new();
    for i in 0..55 {
        let new = agents::NewAgent {
            name: format!(
                "{}-{i:02}",
                if i % 5 == 0 { "Billing_bot" } else { "worker" }
            ),
            agent_type: "assistant".into(),
            version: "1.0.0".into(),
            capabilities: vec!["reports:read".into()],
            owner: "tests".into(),
            environment: "production".into(),
            secret_expires: String::new(),
            resources: String::new(),
        };
        let (agent, _) = agents::create(
            &app.db,
            &keys,
            &tenant,
            new,
            app.clock.now(),
            &app::domain::audit::By::operator(),
        )
        .await
        .unwrap();
        // Agent i gets i tokens this month (now: a minute ago is last
        // month in the first minute of a month).
        if i > 0 {
            past(&app, &tenant, &agent.id, 0, i).await;
        }
        ids.push(agent.id);
    }
    let client = app.signed_in(&tenant, "admin@acme.test", Role::Admin).await;
    let rows = |html: &str| -> Vec<String> {
        html.split("data-agent-id=\"")
            .skip(1)
            .map(|c| c.split('"').next().unwrap().to_owned())
            .collect()
    };

    // Default: most tokens first, 25 a page.
    let html = page(&client, &app, "/analytics").await;
    let first = rows(&html);
    assert_eq!(first.len(), 25);
    assert_eq!(first[0], ids[54]);
    assert!(html.contains("Page 1 of 3"));
    let html = page(&client, &app, "/analytics?days=30&page=2").await;
    let second = rows(&html);
    assert_eq!(second.len(), 25);
    assert_eq!(second[0], ids[29]);
    let html = page(&client, &app, "/analytics?days=30&page=3").await;
    let last = rows(&html);
    assert_eq!(last.len(), 5);
    assert_eq!(last.last().unwrap(), &ids[0]);
    // A page past the end shows the last one.
    let html = page(&client, &app, "/analytics?days=30&page=9").await;
    assert_eq!(rows(&html), last);

    // Fewest first, then by name A to Z.
    let html = page(&client, &app, "/analytics?days=30&sort=tokens&dir=asc").await;
    assert_eq!(rows(&html)[0], ids[0]);
    let html = page(&client, &app, "/analytics?days=30&sort=name&dir=asc").await;
    assert_eq!(rows(&html)[0], ids[0], "Billing_bot-00 sorts first");

    // The filter is a case-insensitive substring; `_` is literal, not a wildcard.
    let html = page(&client, &app, "/analytics?days=30&q=BILLING_").await;
    assert_eq!(rows(&html).len(), 11);
    assert!(html.contains("11 of 55 agents"));
    let html = page(&client, &app, "/analytics?days=30&q=g_b").await;
    assert_eq!(rows(&html).len(), 11);
    let html = page(&client, &app, "/analytics?days=30&q=r_0").await;
    assert!(rows(&html).is_empty(), "`_` must not match any character");
    assert!(html.contains("No agent name contains"));

    // The CSV holds every matching row, in the same order.
    let csv = get(
        &app,
        &client,
        "/analytics/export/agents.csv?q=billing&sort=tokens&dir=desc",
    )
    .await
    .1;
    let csv_ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(csv_ids.len(), 11);
    assert_eq!(csv_ids[0], ids[50]);
}

/// The page is read from the database at most once a second under load;
/// the numbers must still be live: a token issued here shows on the next
/// request, and usage another instance writes within 2 s.
async fn new_usage_is_on_the_page_within_two_seconds(app: TestApp) {
    let tenant = app.tenant("Live", Tier::Free).await;
    let (id, secret) = app.agent(&tenant, "analytics:read").await;
    let client = app
        .signed_in(&tenant, "live@example.com", Role::Owner)
        .await;
    bearer(&app, &id, &secret).await;
    let tokens_on_page =
        || async { card_value(&page(&client, &app, "/analytics").await, "tokens") };
    assert_eq!(tokens_on_page().await, "1");

    // Through this instance's token endpoint: on the very next request.
    bearer(&app, &id, &secret).await;
    assert_eq!(tokens_on_page().await, "2");

    // Written by another instance: within 2 s.
    assert_eq!(tokens_on_page().await, "2");
    let other = app.other_instance_db().await;
    let counts = Counts {
        tokens_issued: 5,
        ..Default::default()
    };
    record_past_hour(&other, &tenant, &id, app.clock.now() - 60, counts).await;
    tokens_card_shows_within_two_seconds(&client, &app, "7").await;
}

/// Reloads `/analytics` until its tokens card shows `want`, for at most 2 s.
async fn tokens_card_shows_within_two_seconds(client: &reqwest::Client, app: &TestApp, want: &str) {
    let since = std::time::Instant::now();
    loop {
        let shown = card_value(&page(client, app, "/analytics").await, "tokens");
        if shown == want {
            return;
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(2),
            "after 2 s the tokens card shows {shown}, not {want}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// On SQLite an unlimited tenant's tokens are journaled and folded into the
// rollups a few times a second, with no request waiting for it.
async fn an_unlimited_tenant_s_tokens_are_on_the_page_within_two_seconds(app: TestApp) {
    let tenant = app.tenant("Live", Tier::Enterprise).await;
    let (id, secret) = app.agent(&tenant, "analytics:read").await;
    let client = app
        .signed_in(&tenant, "live@example.com", Role::Owner)
        .await;
    for _ in 0..3 {
        bearer(&app, &id, &secret).await;
    }
    tokens_card_shows_within_two_seconds(&client, &app, "3").await;
}

/// A page is gzipped whole (one body with its length, not chunks) when the
/// browser accepts gzip, and sent as it is when it does not or refuses it.
async fn pages_come_gzipped_to_a_browser_that_accepts_it(app: TestApp) {
    use std::io::Read;
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app.signed_in(&tenant, "ada@acme.test", Role::Admin).await;
    // Enough rows that /agents' table is spliced in precompressed.
    for _ in 0..12 {
        app.agent(&tenant, "tickets:read").await;
    }
    let get = |accept: Option<&'static str>| {
        let mut req = client.get(app.url("/analytics"));
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        req.send()
    };

    let res = get(Some("br;q=1.0, gzip;q=0.8, *;q=0.1")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header("vary").as_deref(), Some("accept-encoding"));
    assert_eq!(header("transfer-encoding"), None);
    let length: usize = header("content-length").unwrap().parse().unwrap();
    let body = res.bytes().await.unwrap();
    assert_eq!(body.len(), length);
    let mut html = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("Analytics</h1>"), "{html}");
    assert!(html.contains("</body></html>"), "the whole page");
    assert!(
        body.len() * 2 < html.len(),
        "{} of {} bytes",
        body.len(),
        html.len()
    );

    for refused in [None, Some("gzip;q=0, br"), Some("identity")] {
        let res = get(refused).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            !res.headers().contains_key("content-encoding"),
            "{refused:?}"
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("Analytics</h1>"), "{refused:?}");
    }

    // A page gzipped with its shared table spliced in is the same page.
    let agents = |accept: &'static str| {
        client
            .get(app.url("/agents"))
            .header("accept-encoding", accept)
            .send()
    };
    let gzipped = agents("gzip").await.unwrap().bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&gzipped[..])
        .read_to_string(&mut html)
        .unwrap();
    let plain = agents("identity").await.unwrap().text().await.unwrap();
    let without_nonce = |page: &str| page.split("<script").next().unwrap().to_owned();
    assert_eq!(without_nonce(&html), without_nonce(&plain));
    assert_eq!(html.matches("<tr>").count(), 13, "a header and 12 rows");
    // Smaller pages are deflated whole (`MIN_SPLICED_PAGE`).
    assert!(plain.len() > 2 * 1024, "{} bytes", plain.len());
}

/// The class of a summary card's change line (`stat-change up better`...).
fn card_change(html: &str, key: &str) -> String {
    let start = html.find(&format!("data-testid=\"card-{key}\"")).unwrap();
    let rest = &html[start..];
    let at = rest.find("class=\"stat-change").unwrap() + "class=\"".len();
    rest[at..].split('"').next().unwrap().to_owned()
}

/// More tokens and fewer refusals than the period before: both cards say
/// so in green; more refusals would be red.
async fn fewer_refusals_are_the_good_news_on_the_cards(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (agent, _) = app.agent(&tenant, "files:read").await;
    let day = 86_400;
    for (ago, tokens, refused) in [(40 * day, 10, 30), (2 * day, 50, 5)] {
        record_past_hour(
            &app.db,
            &tenant,
            &agent,
            app.clock.now() - ago,
            Counts {
                tokens_issued: tokens,
                api_calls: 0,
                refused,
            },
        )
        .await;
    }
    let owner = app
        .signed_in(&tenant, "olga@acme.example", Role::Owner)
        .await;
    let html = page(&owner, &app, "/analytics?days=30").await;
    assert_eq!(card_change(&html, "tokens"), "stat-change up better");
    assert_eq!(card_change(&html, "refused"), "stat-change down better");
    record_past_hour(
        &app.db,
        &tenant,
        &agent,
        app.clock.now() - day,
        Counts {
            tokens_issued: 0,
            api_calls: 0,
            refused: 100,
        },
    )
    .await;
    // Past the page's one-second read cache (history is written as the
    // demo seeder writes it, not through the live meter).
    app.clock.advance(2);
    let html = page(&owner, &app, "/analytics?days=30").await;
    assert_eq!(card_change(&html, "refused"), "stat-change up worse");
}
