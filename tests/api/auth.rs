use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_error, spawn_app, status_and_json};

const PASSWORD: &str = "correct horse battery";

/// A manager of a new community, created with a password, as the back
/// office would; returns the phone number.
async fn staff_with_password(app: &TestApp, phone: &str) -> String {
    let community = app.community(&format!("小区{phone}")).await;
    let admin = app.operator_admin().await;
    let res = app
        .post(
            &format!("/api/v1/communities/{community}/staff"),
            Some(&admin.access),
            json!({
                "phone": phone,
                "display_name": "王经理",
                "role": "manager",
                "initial_password": PASSWORD,
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    phone.to_owned()
}

async fn login(app: &TestApp, phone: &str, password: &str) -> reqwest::Response {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({ "phone": phone, "password": password }),
    )
    .await
}

#[tokio::test]
async fn staff_sign_in_with_phone_and_password_and_reach_their_profile() {
    let app = spawn_app().await;
    let phone = staff_with_password(&app, "13900000001").await;
    let res = login(&app, &phone, PASSWORD).await;
    let (status, body) = status_and_json(res).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap();

    let me: Value = app
        .get("/api/v1/me", Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["display_name"], "王经理");
    assert_eq!(me["phone"], "139****0001");
    assert_eq!(me["staff_roles"][0]["role"], "manager");
    assert_eq!(me["is_operator_admin"], false);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_phone_get_the_same_answer() {
    let app = spawn_app().await;
    let phone = staff_with_password(&app, "13900000002").await;
    let wrong = assert_error(
        login(&app, &phone, "not the password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        login(&app, "13911111111", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let malformed = assert_error(
        login(&app, "12345", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong["message"], unknown["message"]);
    assert_eq!(wrong["message"], malformed["message"]);
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_retry_after_even_for_the_right_password() {
    let app = spawn_app().await; // test config: 5 attempts per window
    let phone = staff_with_password(&app, "13900000003").await;
    for _ in 0..5 {
        assert_error(
            login(&app, &phone, "wrong password").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let res = login(&app, &phone, PASSWORD).await;
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 900);
    assert_error(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn parallel_guesses_cannot_slip_past_the_throttle() {
    let app = spawn_app().await; // 5 attempts per window
    let phone = staff_with_password(&app, "13900000009").await;
    let guesses = (0..20).map(|i| {
        let app = &app;
        let phone = phone.clone();
        async move {
            login(app, &phone, &format!("guess number {i}"))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let tried = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(tried <= 5, "{tried} guesses were checked: {statuses:?}");
    assert_eq!(tried + refused, 20, "{statuses:?}");
}

#[tokio::test]
async fn behind_a_proxy_the_client_address_is_the_one_the_proxy_appended() {
    let app = crate::support::spawn_app_with(|s| s.server.trust_forwarded_for = true).await;
    let phone = staff_with_password(&app, "13900000010").await;
    // A client rotating a spoofed leftmost entry is still one address to us.
    for i in 0..25 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("10.0.0.{i}, 203.0.113.7"))
            .json(&json!({ "phone": format!("1390000{:04}", 2000 + i), "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    // 25 = 5 x the per-phone limit: the address is now throttled.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "10.9.9.9, 203.0.113.7")
        .json(&json!({ "phone": phone, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_refresh_token_rotates_and_works_once() {
    let app = spawn_app().await;
    let session = app.resident().await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    let (status, next) = status_and_json(res).await;
    assert_eq!(status, 200, "{next}");
    assert_ne!(next["refresh_token"], session.refresh.as_str());
    let access = next["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", Some(access)).await.status(), 200);

    let again = next["refresh_token"].as_str().unwrap();
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": again }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let app = spawn_app().await;
    let session = app.resident().await;
    let first = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let newest = first["refresh_token"].as_str().unwrap().to_owned();

    // The old token again: someone kept a copy.
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_error(res, 401, "refresh_token_reused").await;

    // The legitimate newest token is revoked with the family.
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": newest }),
        )
        .await;
    assert_error(res, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn unknown_and_expired_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": "made-up" }),
        )
        .await;
    assert_error(res, 401, "invalid_refresh_token").await;

    let session = app.resident().await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE refresh_tokens SET expires_at = created_at")
        .await
        .unwrap();
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_error(res, 401, "refresh_token_expired").await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_is_idempotent() {
    let app = spawn_app().await;
    let session = app.resident().await;
    let body = json!({ "refresh_token": session.refresh });
    assert_eq!(
        app.post("/api/v1/auth/logout", None, body.clone())
            .await
            .status(),
        204
    );
    assert_eq!(
        app.post("/api/v1/auth/logout", None, body.clone())
            .await
            .status(),
        204
    );
    assert_error(
        app.post("/api/v1/auth/refresh", None, body).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn a_disabled_account_is_refused_even_with_a_valid_token() {
    let app = spawn_app().await;
    let session = app.resident().await;
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("UPDATE users SET status = 'disabled'")
        .await
        .unwrap();
    assert_error(
        app.get("/api/v1/me", Some(&session.access)).await,
        403,
        "account_disabled",
    )
    .await;
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": session.refresh }),
        )
        .await;
    assert_error(res, 403, "account_disabled").await;
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_signs_out_other_devices() {
    let app = spawn_app().await;
    let phone = staff_with_password(&app, "13900000004").await;
    let body: Value = login(&app, &phone, PASSWORD).await.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();

    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let res = app
        .request(
            Method::PUT,
            "/api/v1/me/password",
            Some(access),
            Some(change("nope nope", "brand new password")),
        )
        .await;
    assert_error(res, 401, "invalid_credentials").await;
    let res = app
        .request(
            Method::PUT,
            "/api/v1/me/password",
            Some(access),
            Some(change(PASSWORD, "short")),
        )
        .await;
    let err = assert_error(res, 422, "validation_failed").await;
    assert_eq!(err["details"]["field"], "new_password");

    let res = app
        .request(
            Method::PUT,
            "/api/v1/me/password",
            Some(access),
            Some(change(PASSWORD, "brand new password")),
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_error(
        login(&app, &phone, PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        login(&app, &phone, "brand new password").await.status(),
        200
    );
    let res = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({ "refresh_token": refresh }),
        )
        .await;
    assert_error(res, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn the_development_login_does_not_exist_when_turned_off() {
    let app = crate::support::spawn_app_with(|s| s.auth.dev_login = false).await;
    let res = app.post("/api/v1/dev/login", None, json!({})).await;
    assert_error(res, 404, "not_found").await;
    let doc: Value = app
        .get("/api-docs/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/dev/login"].is_null());
}

#[tokio::test]
async fn phone_numbers_are_stored_encrypted_and_hashed_never_in_plaintext() {
    let app = spawn_app().await;
    app.dev_login(json!({ "phone": "13912345678" })).await;
    use sea_orm::{ConnectionTrait, Statement};
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT phone_hash, phone_enc, phone_masked FROM users",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].try_get("", "phone_hash").unwrap();
    let enc: String = rows[0].try_get("", "phone_enc").unwrap();
    let masked: String = rows[0].try_get("", "phone_masked").unwrap();
    for stored in [&hash, &enc, &masked] {
        assert!(!stored.contains("13912345678"), "{stored}");
    }
    assert_eq!(masked, "139****5678");
    assert_eq!(app.state.pii.decrypt(&enc).unwrap(), "13912345678");
}

#[tokio::test]
async fn role_changes_made_through_this_instance_apply_at_once_despite_the_principal_cache() {
    let app = crate::support::spawn_app_with(|s| s.auth.principal_cache_ttl_ms = 60_000).await;
    let c = app.community("缓存小区").await;
    let manager = app.staff(c, "manager").await;
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/staff"),
            Some(&manager.access),
            json!({ "phone": "13500000001", "display_name": "新门岗", "role": "gate_guard", "initial_password": "guard-password" }),
        )
        .await;
    let added: Value = res.json().await.unwrap();
    let body: Value = login(&app, "13500000001", "guard-password")
        .await
        .json()
        .await
        .unwrap();
    let guard = body["access_token"].as_str().unwrap().to_owned();
    let community_path = format!("/api/v1/communities/{c}");
    assert_eq!(app.get(&community_path, Some(&guard)).await.status(), 200);

    let id = added["id"].as_str().unwrap();
    let res = app
        .request(
            Method::DELETE,
            &format!("{community_path}/staff/{id}"),
            Some(&manager.access),
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_error(
        app.get(&community_path, Some(&guard)).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn role_changes_made_elsewhere_apply_within_the_principal_cache_lifetime() {
    let app = crate::support::spawn_app_with(|s| s.auth.principal_cache_ttl_ms = 300).await;
    let c = app.community("别处改动").await;
    let guard = app.staff(c, "gate_guard").await;
    let community_path = format!("/api/v1/communities/{c}");
    assert_eq!(
        app.get(&community_path, Some(&guard.access)).await.status(),
        200
    );

    // Another instance withdraws the role: this one learns within the TTL.
    use sea_orm::ConnectionTrait;
    app.db
        .execute_unprepared("DELETE FROM staff_roles")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = app.get(&community_path, Some(&guard.access)).await.status();
        if status == 404 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still admitted after the TTL"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
