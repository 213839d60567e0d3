//! `/api/v1/openapi.json` against the running API: every answer of every
//! documented operation, success and refusal, must be listed in the document
//! with its status and match its schema, with no property the schema lacks.

use std::collections::BTreeSet;

use app::domain::metering::Counts;
use app::domain::Clock;
use app::model::Tier;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{http_client, record_past_hour, TestApp};
use crate::on_both_backends;

on_both_backends!(TestApp => every_answer_matches_the_published_document);

/// The published document, and which (method, path, status) the test saw.
struct Contract {
    doc: Value,
    seen: BTreeSet<(String, String, u16)>,
}

impl Contract {
    /// Checks one real answer against the document and returns its body.
    async fn check(&mut self, method: &str, path: &str, res: reqwest::Response) -> Value {
        let status = res.status().as_u16();
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.bytes().await.unwrap();
        let pointer = format!(
            "/paths/{}/{method}/responses/{status}",
            path.replace('~', "~0").replace('/', "~1")
        );
        let documented = self.doc.pointer(&pointer).unwrap_or_else(|| {
            panic!("{method} {path} answered {status}, which the document does not list")
        });
        self.seen.insert((method.into(), path.into(), status));
        let Some(content) = documented.get("content") else {
            assert!(
                body.is_empty(),
                "{method} {path} {status}: documented without a body, answered {body:?}"
            );
            return Value::Null;
        };
        assert!(
            content.get("application/json").is_some()
                && content_type.as_deref() == Some("application/json"),
            "{method} {path} {status}: answered {content_type:?}, documented {content}"
        );
        let value: Value = serde_json::from_slice(&body).unwrap();
        // Validate with the whole document as the root, so that its
        // `#/components/...` references resolve; closing every object schema
        // makes an undocumented property a failure too.
        let mut root = self.doc.clone();
        close_objects(&mut root);
        root["$ref"] = json!(format!("#{pointer}/content/application~1json/schema"));
        let validator = jsonschema::draft202012::new(&root).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{method} {path} {status}: {value} does not match the document: {problems:?}"
        );
        value
    }

    /// Each operation the document describes, with its success status, was
    /// answered at least once.
    fn assert_every_operation_exercised(&self) {
        let paths = self.doc["paths"].as_object().unwrap();
        for (path, operations) in paths {
            for method in operations.as_object().unwrap().keys() {
                assert!(
                    self.seen.contains(&(method.clone(), path.clone(), 200)),
                    "{method} {path} was never answered 200 in this test"
                );
            }
        }
    }
}

/// `additionalProperties: false` on every object schema with properties.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), json!(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

async fn every_answer_matches_the_published_document(app: TestApp) {
    let client = http_client();
    let res = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], app.base.as_str());
    // The token form documents RFC 8707's `resource`, which may be left out.
    let form = &doc["components"]["schemas"]["TokenForm"];
    assert_eq!(form["properties"]["resource"]["type"], "array", "{form}");
    let required = form["required"].as_array().cloned().unwrap_or_default();
    assert!(
        required.is_empty(),
        "nothing in the form is always required: {form}"
    );
    let mut api = Contract {
        doc,
        seen: BTreeSet::new(),
    };

    let tenant = app.tenant("Contoso", Tier::Free).await;
    let (id, secret) = app
        .agent(&tenant, "analytics:read files:read audit:read")
        .await;
    let (other_id, other_secret) = app.agent(&tenant, "files:read").await;

    // Token endpoint: issued, malformed, unsupported grant, bad client.
    let token_path = "/api/v1/token";
    let body = api
        .check("post", token_path, app.token(&id, &secret, None).await)
        .await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let narrow = api
        .check(
            "post",
            token_path,
            app.token(&other_id, &other_secret, None).await,
        )
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let form = |pairs: &[(&str, &str)]| client.post(app.url(token_path)).form(pairs).send();
    api.check(
        "post",
        token_path,
        form(&[("grant_type", "password")]).await.unwrap(),
    )
    .await;
    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", "not-the-secret"),
    ];
    api.check("post", token_path, form(&wrong).await.unwrap())
        .await;

    // Introspection and revocation.
    let introspect = "/api/v1/token/introspect";
    let revoke = "/api/v1/token/revoke";
    let with_token = |path: &str, t: &str| {
        client
            .post(app.url(path))
            .basic_auth(&id, Some(&secret))
            .form(&[("token", t)])
            .send()
    };
    let active = api
        .check(
            "post",
            introspect,
            with_token(introspect, &token).await.unwrap(),
        )
        .await;
    assert_eq!(active["active"], true);
    let junk = api
        .check(
            "post",
            introspect,
            with_token(introspect, "junk").await.unwrap(),
        )
        .await;
    assert_eq!(junk, json!({ "active": false }));
    let no_token = client
        .post(app.url(introspect))
        .basic_auth(&id, Some(&secret))
        .form(&[("scope", "x")])
        .send()
        .await
        .unwrap();
    api.check("post", introspect, no_token).await;
    let bad_client = client
        .post(app.url(introspect))
        .basic_auth(&id, Some("wrong"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    api.check("post", introspect, bad_client).await;

    // Resources: the agent, the three analytics views, their refusals.
    let get = |path: &str, bearer: Option<&str>| {
        let req = client.get(app.url(path));
        match bearer {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
        .send()
    };
    let me = api
        .check(
            "get",
            "/api/v1/agents/me",
            get("/api/v1/agents/me", Some(&token)).await.unwrap(),
        )
        .await;
    assert_eq!(me["id"], id.as_str());
    api.check(
        "get",
        "/api/v1/agents/me",
        get("/api/v1/agents/me", None).await.unwrap(),
    )
    .await;
    for path in [
        "/api/v1/analytics/tokens",
        "/api/v1/analytics/activity",
        "/api/v1/analytics/agents",
    ] {
        let data = api
            .check("get", path, get(path, Some(&token)).await.unwrap())
            .await;
        assert!(
            !data["data"].as_array().unwrap().is_empty(),
            "{path}: {data}"
        );
        api.check("get", path, get(path, Some(&narrow)).await.unwrap())
            .await;
        api.check("get", path, get(path, None).await.unwrap()).await;
    }
    for path in ["/api/v1/analytics/tokens", "/api/v1/analytics/activity"] {
        let week = format!("{path}?days=7");
        let data = api
            .check("get", path, get(&week, Some(&token)).await.unwrap())
            .await;
        assert_eq!(data["days"], 7);
        let odd = format!("{path}?days=8");
        api.check("get", path, get(&odd, Some(&token)).await.unwrap())
            .await;
    }

    // The audit trail: a page of entries, a bad filter, a token without the scope.
    let audit = "/api/v1/audit";
    let page = api
        .check(
            "get",
            audit,
            get("/api/v1/audit?limit=1", Some(&token)).await.unwrap(),
        )
        .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "{page}");
    api.check(
        "get",
        audit,
        get("/api/v1/audit?from=never", Some(&token)).await.unwrap(),
    )
    .await;
    api.check("get", audit, get(audit, Some(&narrow)).await.unwrap())
        .await;

    // The daily limits: the token endpoint's and the resources' 429.
    let used = Counts {
        tokens_issued: 1000,
        api_calls: 1000,
        ..Default::default()
    };
    record_past_hour(&app.db, &tenant, &id, app.clock.now(), used).await;
    api.check("post", token_path, app.token(&id, &secret, None).await)
        .await;
    api.check(
        "get",
        "/api/v1/agents/me",
        get("/api/v1/agents/me", Some(&token)).await.unwrap(),
    )
    .await;

    // Revocation last: the token stops working.
    api.check("post", revoke, with_token(revoke, &token).await.unwrap())
        .await;
    let revoked = api
        .check(
            "post",
            introspect,
            with_token(introspect, &token).await.unwrap(),
        )
        .await;
    assert_eq!(revoked["active"], false);

    api.assert_every_operation_exercised();
}
