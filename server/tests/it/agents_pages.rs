//! The Agents pages as a signed-in member uses them: HTML forms, no JavaScript.

use app::domain::Clock;
use app::model::{Role, Tier};
use reqwest::StatusCode;

use crate::common::{location, TestApp};
use crate::on_both_backends;
use crate::signup::{get, without_nonce};

on_both_backends!(
    TestApp =>
    creating_an_agent_shows_its_secret_once_and_the_secret_works,
    bad_input_keeps_the_form_and_says_what_is_wrong,
    the_agent_limit_is_refused_with_a_link_to_the_plan,
    status_changes_and_rotation,
    viewers_see_agents_but_cannot_change_them,
    another_tenants_agent_is_not_found,
    a_long_list_is_paged_and_the_filter_is_kept,
    a_page_is_the_same_read_for_it_or_shared,
);

fn agent_form(name: &str) -> Vec<(&'static str, String)> {
    vec![
        ("name", name.into()),
        ("agent_type", "assistant".into()),
        ("version", "2.1.0".into()),
        ("capabilities", "tickets:read tickets:write".into()),
        ("owner", "support-ops".into()),
        ("environment", "staging".into()),
    ]
}

/// The text between `data-testid="{id}">` and the next `<`.
pub(crate) fn test_id(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("data-testid=\"{id}\""))?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..];
    Some(text[..text.find('<')?].to_owned())
}

async fn creating_an_agent_shows_its_secret_once_and_the_secret_works(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let res = client
        .post(app.url("/agents"))
        .form(&agent_form("triage-bot"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let html = res.text().await.unwrap();
    let id = test_id(&html, "client-id").expect("client id shown");
    let secret = test_id(&html, "client-secret").expect("secret shown");
    assert!(secret.starts_with("ais_") && secret.len() >= 47, "{secret}");
    assert!(html.contains("shown only once"));
    // Shown once: the agent's page never shows it again.
    let again = get(&app, &client, &format!("/agents/{id}")).await.1;
    assert!(!again.contains(&secret));
    assert!(
        again.contains("triage-bot")
            && again.contains("tickets:write")
            && again.contains("staging")
    );
    // The list shows it with its last token.
    let list = get(&app, &client, "/agents?q=triage").await.1;
    assert!(list.contains("triage-bot") && list.contains("never"));
    // The secret gets a token, and the page then shows the token time.
    assert_eq!(
        app.token(&id, &secret, Some("tickets:read")).await.status(),
        StatusCode::OK
    );
    let after = get(&app, &client, &format!("/agents/{id}")).await.1;
    assert!(
        test_id(&after, "last-token")
            .unwrap()
            .starts_with("just now"),
        "{after}"
    );
}

async fn bad_input_keeps_the_form_and_says_what_is_wrong(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Owner)
        .await;
    let mut form = agent_form("");
    form[3].1 = "tickets:read NotACapability".into();
    let res = client
        .post(app.url("/agents"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    // Each problem beside its field, and a summary above the form.
    let summary = test_id(&html, "agent-form-error").unwrap();
    assert!(summary.contains("Check the fields"), "{summary}");
    let name = test_id(&html, "error-name").unwrap();
    assert!(name.contains("Name is required"), "{name}");
    let capabilities = test_id(&html, "error-capabilities").unwrap();
    assert!(capabilities.contains("notacapability"), "{capabilities}");
    assert!(test_id(&html, "error-owner").is_none(), "owner was fine");
    assert!(
        html.contains("value=\"support-ops\""),
        "typed values are kept"
    );
    // Nothing was created.
    let list = get(&app, &client, "/agents").await.1;
    assert!(list.contains("No agents yet"));
}

async fn the_agent_limit_is_refused_with_a_link_to_the_plan(app: TestApp) {
    let tenant = app.tenant("Northwind", Tier::Free).await;
    for _ in 0..10 {
        app.agent(&tenant, "tokens:read").await;
    }
    let client = app
        .signed_in(&tenant, "ada@northwind.example", Role::Admin)
        .await;
    let res = client
        .post(app.url("/agents"))
        .form(&agent_form("eleventh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains("The Free tier allows 10 live agents"));
    assert!(html.contains("href=\"/settings/tier\""));
    assert_eq!(
        test_id(&html, "agent-limit").unwrap(),
        "10 of 10 live agents on the Free tier"
    );
}

async fn status_changes_and_rotation(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    let page = format!("/agents/{id}");
    let post = |path: String, form: Vec<(&'static str, &'static str)>| {
        client.post(app.url(&path)).form(&form).send()
    };

    let res = post(format!("{page}/status"), vec![("action", "suspend")])
        .await
        .unwrap();
    assert_eq!(location(&res), format!("{page}?done=suspend"));
    assert_eq!(
        app.token(&id, &secret, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let html = get(&app, &client, &location(&res)).await.1;
    assert!(html.contains("Agent suspended") && html.contains("Reactivate"));

    post(format!("{page}/status"), vec![("action", "reactivate")])
        .await
        .unwrap();
    assert_eq!(app.token(&id, &secret, None).await.status(), StatusCode::OK);

    let res = post(format!("{page}/rotate"), vec![]).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let rotated = test_id(&html, "client-secret").unwrap();
    assert!(html.contains("The previous secret keeps working until"));
    // 24 hours by default: both work meanwhile.
    for s in [&secret, &rotated] {
        assert_eq!(app.token(&id, s, None).await.status(), StatusCode::OK);
    }

    // Decommissioning needs the confirmation.
    let res = post(format!("{page}/status"), vec![("action", "decommission")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Tick the confirmation"));
    assert_eq!(
        app.token(&id, &rotated, None).await.status(),
        StatusCode::OK
    );
    let res = post(
        format!("{page}/status"),
        vec![("action", "decommission"), ("confirm", "yes")],
    )
    .await
    .unwrap();
    assert_eq!(location(&res), format!("{page}?done=decommission"));
    assert_eq!(
        app.token(&id, &rotated, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = post(format!("{page}/status"), vec![("action", "reactivate")])
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

async fn viewers_see_agents_but_cannot_change_them(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let (id, secret) = app.agent(&tenant, "tokens:read").await;
    let client = app
        .signed_in(&tenant, "val@acme.example", Role::Viewer)
        .await;
    let list = get(&app, &client, "/agents").await.1;
    assert!(list.contains("test agent") && list.contains("view access"));
    assert!(!list.contains("Register an agent"));
    let detail = get(&app, &client, &format!("/agents/{id}")).await.1;
    assert!(!detail.contains("Rotate secret") && !detail.contains("Decommission"));
    for (path, form) in [
        ("/agents".to_owned(), agent_form("sneaky")),
        (
            format!("/agents/{id}/status"),
            vec![("action", "suspend".into())],
        ),
        (format!("/agents/{id}/rotate"), vec![]),
    ] {
        let res = client
            .post(app.url(&path))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.token(&id, &secret, None).await.status(),
        StatusCode::OK,
        "nothing changed"
    );
}

async fn another_tenants_agent_is_not_found(app: TestApp) {
    let a = app.tenant("Tenant A", Tier::Pro).await;
    let b = app.tenant("Tenant B", Tier::Pro).await;
    let (b_agent, b_secret) = app.agent(&b, "tokens:read").await;
    let client = app.signed_in(&a, "ada@a.example", Role::Owner).await;
    let res = client
        .get(app.url(&format!("/agents/{b_agent}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let html = res.text().await.unwrap();
    assert!(html.contains("There is no such agent in your tenant."));
    assert!(
        !html.contains("test agent"),
        "nothing of B's agent is shown"
    );
    let list = get(&app, &client, "/agents").await.1;
    assert!(!list.contains(&b_agent));
    for path in [
        format!("/agents/{b_agent}/status"),
        format!("/agents/{b_agent}/rotate"),
    ] {
        let res = client
            .post(app.url(&path))
            .form(&[("action", "suspend")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.token(&b_agent, &b_secret, None).await.status(),
        StatusCode::OK,
        "B's agent untouched"
    );
}

async fn a_long_list_is_paged_and_the_filter_is_kept(app: TestApp) {
    let tenant = app.tenant("Fleet", Tier::Enterprise).await;
    for i in 0..120 {
        let new = app::domain::agents::NewAgent {
            name: format!("{} {i:03}", if i % 2 == 0 { "crawler" } else { "mailer" }),
            agent_type: "worker".into(),
            version: "1.0.0".into(),
            capabilities: vec!["jobs:run".into()],
            owner: "ops".into(),
            environment: "production".into(),
            secret_expires: String::new(),
            resources: String::new(),
        };
        app::domain::agents::create(
            &app.db,
            &app.keys.get(),
            &tenant,
            new,
            app.clock.now(),
            &app::domain::audit::By::operator(),
        )
        .await
        .unwrap();
    }
    let client = app
        .signed_in(&tenant, "ops@fleet.example", Role::Viewer)
        .await;
    let get = |path: &'static str| {
        let client = client.clone();
        let url = app.url(path);
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            res.text().await.unwrap()
        }
    };
    let rows = |html: &str| html.matches("href=\"/agents/").count();

    let first = get("/agents").await;
    assert_eq!(rows(&first), 50);
    assert_eq!(
        test_id(&first, "agents-count").unwrap(),
        "Showing 1–50 of 120 agents"
    );
    assert_eq!(test_id(&first, "page-status").unwrap(), "Page 1 of 3");
    assert!(first.contains("href=\"/agents?page=2\""));

    let last = get("/agents?page=3").await;
    assert_eq!(rows(&last), 20);
    assert_eq!(
        test_id(&last, "agents-count").unwrap(),
        "Showing 101–120 of 120 agents"
    );
    // A stale link past the end shows the last page.
    assert_eq!(rows(&get("/agents?page=99").await), 20);

    // The filter narrows the count and stays in the page links.
    let filtered = get("/agents?q=crawler").await;
    assert_eq!(rows(&filtered), 50);
    assert_eq!(
        test_id(&filtered, "agents-count").unwrap(),
        "Showing 1–50 of 60 matching agents (120 in all)"
    );
    assert!(filtered.contains("href=\"/agents?q=crawler&amp;page=2\""));
    let second = get("/agents?q=crawler&page=2").await;
    assert_eq!(rows(&second), 10);
    assert!(!second.contains("mailer"));
    let none = get("/agents?q=nobody").await;
    assert_eq!(
        test_id(&none, "agents-count").unwrap(),
        "No agents match, of 120"
    );
}

/// A page's data read for the request (awaited inside the render) and the
/// same data read by a request just before (ready at once, rendered without
/// waiting) give the same page.
async fn a_page_is_the_same_read_for_it_or_shared(app: TestApp) {
    let tenant = app.tenant("Acme", Tier::Pro).await;
    let client = app
        .signed_in(&tenant, "ada@acme.example", Role::Admin)
        .await;
    for path in ["/agents", "/analytics", "/settings/tier", "/settings/team"] {
        // A write forgets the tenant's recent reads: the next view reads.
        app.agent(&tenant, "tickets:read").await;
        let get = || async {
            let res = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            without_nonce(&res.text().await.unwrap())
        };
        let (read, shared) = (get().await, get().await);
        assert_eq!(read, shared, "{path}");
        assert!(!read.contains("Loading"), "{path}: {read}");
        assert!(read.contains("</main>"), "{path}: {read}");
    }
    let page = client.get(app.url("/agents")).send().await.unwrap();
    let rows = page.text().await.unwrap().matches("<tr").count();
    assert_eq!(rows, 1 + 4, "a header and the four agents");
}
