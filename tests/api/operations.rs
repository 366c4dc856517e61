use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{spawn_app, test_settings};

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
}

#[tokio::test]
async fn ready_reports_the_database_reachable_and_migrations_current() {
    let app = spawn_app().await;
    let res = app.get("/ready", None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "current");
}

#[tokio::test]
async fn ready_is_unavailable_while_migrations_are_pending() {
    let app = spawn_app().await;
    anjia::kernel::db::migrate_down(&app.db, Some(1))
        .await
        .unwrap();
    let res = app.get("/ready", None).await;
    let body = crate::support::assert_error(res, 503, "service_unavailable").await;
    assert!(
        body["details"]["pending"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    );
}

#[tokio::test]
async fn a_request_id_is_echoed_back_or_generated() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");

    let res = app.get("/health", None).await;
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    // A header that could forge log lines is replaced, not echoed.
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "evil value\twith tabs")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "evil value\twith tabs");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = spawn_app().await;
    app.get("/health", None).await;
    app.get("/api/v1/me", None).await;
    let res = app.get("/metrics", None).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"anjia_http_requests_total{method="GET",route="/health",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/me",status="401""#),
        "{text}"
    );
    assert!(text.contains("anjia_http_request_duration_seconds_bucket"));
    assert!(text.contains("anjia_db_pool_connections"));
}

#[tokio::test]
async fn interactive_docs_are_served_at_docs() {
    let app = spawn_app().await;
    let res = app.get("/docs", None).await;
    assert!(res.status().is_redirection());
    let res = app.get("/docs/", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().to_lowercase().contains("swagger"));
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document_and_nothing_else_is() {
    let app = spawn_app().await;
    let doc: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert(format!("{} {path}", method.to_uppercase()));
                let op = &item[method];
                assert!(
                    op["x-access"]["kind"].is_string(),
                    "{method} {path} lacks x-access"
                );
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            }
        }
    }
    let served: BTreeSet<String> = anjia::routes::table(&test_settings())
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(documented, served);
}

#[tokio::test]
async fn the_openapi_document_lists_every_error_code() {
    let app = spawn_app().await;
    let doc: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let codes = &doc["components"]["schemas"]["ErrorCode"];
    let listed: Vec<&str> = codes["enum"]
        .as_array()
        .or_else(|| codes["oneOf"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().or_else(|| v["enum"][0].as_str()))
                .collect()
        })
        .unwrap_or_default();
    for code in [
        "invalid_json",
        "invalid_body",
        "unauthenticated",
        "token_expired",
        "not_found",
        "rate_limited",
        "internal",
    ] {
        assert!(listed.contains(&code), "{code} missing from {codes}");
    }
}

#[test]
fn the_document_gives_every_schema_a_name_of_its_own() {
    let table = anjia::routes::table(&crate::support::test_settings());
    if let Err(duplicate) = anjia::openapi::document(&table) {
        panic!("{duplicate}");
    }
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_resolves_and_each_body_is_its_own_type() {
    let app = spawn_app().await;
    let doc: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 100, "{}", found.len());
    let missing: BTreeSet<&str> = found
        .into_iter()
        .filter(|r| {
            let name = r.trim_start_matches("#/components/schemas/");
            !r.starts_with("#/components/schemas/") || doc["components"]["schemas"][name].is_null()
        })
        .collect();
    assert!(missing.is_empty(), "unresolvable: {missing:?}");
    // Verifying a merchant takes the verification's own body (it once
    // shared a name with a pickup code's verification).
    let body = &doc["paths"]["/api/v1/communities/{community_id}/merchants/{merchant_id}/verify"]["post"]
        ["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let name = body
        .as_str()
        .unwrap()
        .trim_start_matches("#/components/schemas/");
    let schema = &doc["components"]["schemas"][name];
    assert!(
        schema["properties"]["valid_until"].is_object(),
        "{name}: {schema}"
    );
}
