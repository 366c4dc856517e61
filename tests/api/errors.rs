//! Bad input never gives a 500: each kind gets its documented error.

use reqwest::Method;
use serde_json::json;

use crate::support::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_400_invalid_json_with_the_position() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body("{\n  \"phone\": \"13800000000\",\n  \"password\": ")
        .send()
        .await
        .unwrap();
    let body = assert_error(res, 400, "invalid_json").await;
    assert_eq!(body["details"]["line"], 3);
}

#[tokio::test]
async fn a_wrong_type_is_422_invalid_body_naming_the_field() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": 13800000000u64, "password": "x" }),
        )
        .await;
    let body = assert_error(res, 422, "invalid_body").await;
    assert_eq!(body["details"]["field"], "phone");
}

#[tokio::test]
async fn a_missing_field_and_an_unknown_field_are_422_invalid_body() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13800000000" }),
        )
        .await;
    assert_error(res, 422, "invalid_body").await;
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({ "phone": "13800000000", "password": "x", "admin": true }),
        )
        .await;
    assert_error(res, 422, "invalid_body").await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "text/plain")
        .body("phone=1")
        .send()
        .await
        .unwrap();
    assert_error(res, 415, "unsupported_media_type").await;
}

#[tokio::test]
async fn an_oversized_body_is_413_whether_declared_or_streamed() {
    let app = spawn_app_with(|s| s.server.body_limit_bytes = 1024).await;
    let big = json!({ "phone": "x".repeat(4096), "password": "y" });
    let res = app.post("/api/v1/auth/login", None, big).await;
    assert_error(res, 413, "payload_too_large").await;

    // No Content-Length: the limit holds on the stream too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..8).map(|_| Ok(vec![b' '; 512])).collect();
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_error(res, 413, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/v1/nothing-here", None).await,
        404,
        "not_found",
    )
    .await;
    let res = app.request(Method::DELETE, "/health", None, None).await;
    assert_error(res, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_404() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let res = app
        .get("/api/v1/communities/not-a-uuid", Some(&admin.access))
        .await;
    assert_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn a_bad_query_parameter_is_400() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let res = app
        .get("/api/v1/communities?limit=lots", Some(&admin.access))
        .await;
    assert_error(res, 400, "invalid_query").await;
    let res = app
        .get("/api/v1/communities?limit=1000", Some(&admin.access))
        .await;
    assert_error(res, 400, "invalid_query").await;
    let res = app
        .get("/api/v1/communities?cursor=zzz", Some(&admin.access))
        .await;
    assert_error(res, 400, "invalid_cursor").await;
}

#[tokio::test]
async fn missing_malformed_forged_and_expired_tokens_are_401_with_distinct_codes() {
    let app = spawn_app().await;
    assert_error(app.get("/api/v1/me", None).await, 401, "unauthenticated").await;

    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "invalid_token").await;

    assert_error(
        app.get("/api/v1/me", Some("not.a.jwt")).await,
        401,
        "invalid_token",
    )
    .await;

    // Signed with another key.
    let mut other = crate::support::test_settings();
    other.auth.jwt_secret = "another-secret-another-secret-another-secret"
        .to_owned()
        .into();
    let forger = anjia::auth::jwt::TokenIssuer::new(&other.auth);
    let session = app.resident().await;
    let user = entity::UserId::from_uuid(session.user_id);
    let forged = forger.issue(user).unwrap();
    assert_error(
        app.get("/api/v1/me", Some(&forged)).await,
        401,
        "invalid_token",
    )
    .await;

    // Expired an hour ago, signed with the right key.
    let now = chrono::Utc::now().timestamp();
    let expired = app
        .state
        .tokens
        .issue_with_times(user, now - 7200, now - 3600)
        .unwrap();
    assert_error(
        app.get("/api/v1/me", Some(&expired)).await,
        401,
        "token_expired",
    )
    .await;

    // The right token works.
    assert_eq!(
        app.get("/api/v1/me", Some(&session.access)).await.status(),
        200
    );
}

#[tokio::test]
async fn percent_encoded_paths_reach_the_same_guard_as_plain_ones() {
    let app = spawn_app().await;
    // `communiti%65s` decodes to `communities`: routed there, and guarded.
    let res = app
        .client
        .post(app.url("/api/v1/communiti%65s"))
        .header("content-type", "application/json")
        .body(r#"{"name":"x","address":"y"}"#)
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthenticated").await;
    let res = app
        .client
        .get(app.url("/api/v1/m%65"))
        .send()
        .await
        .unwrap();
    assert_error(res, 401, "unauthenticated").await;
    let resident = app.resident().await;
    let res = app
        .client
        .post(app.url("/api/v1/%63ommunities"))
        .bearer_auth(&resident.access)
        .json(&json!({ "name": "x", "address": "y" }))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "forbidden").await;
}
