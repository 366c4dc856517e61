//! anjia's calls to WeChat's API: the shared access token (refreshed once
//! when refused, fetched once for many callers), errcodes in an HTTP 200,
//! the menu, QR codes, and sandbox mode that calls nothing.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use super::{event, mount_token, post_plain};
use crate::support::fakes::wechat::{configure, wechat_app};
use crate::support::outbox::wait_for_outbox;
use crate::support::{assert_error, spawn_app, status_and_json};

#[tokio::test]
async fn a_refused_access_token_is_refreshed_once_and_the_call_retried_once() {
    let app = wechat_app().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": false})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "OLD", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "NEW", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .and(query_param("access_token", "OLD"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40001, "errmsg": "invalid credential"})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .and(query_param("access_token", "NEW"))
        .and(body_partial_json(
            json!({"button": [{"name": "社区团购", "type": "click", "key": "group_buys"}]}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let admin = app.operator_admin().await;
    let (status, synced) = status_and_json(
        app.post("/api/v1/wechat/menu/sync", Some(&admin.access), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{synced}");
    assert_eq!(synced["sandbox"], false);
}

#[tokio::test]
async fn a_wechat_errcode_in_an_http_200_is_an_error_not_a_success() {
    let app = wechat_app().await;
    mount_token(&app, "T", 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/menu/create"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 45009, "errmsg": "reach max api daily quota limit"}),
            ),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let admin = app.operator_admin().await;
    assert_error(
        app.post("/api/v1/wechat/menu/sync", Some(&admin.access), json!({}))
            .await,
        502,
        "wechat_unavailable",
    )
    .await;
}

#[tokio::test]
async fn in_sandbox_mode_the_menu_sync_shows_the_menu_without_calling_wechat() {
    let app = spawn_app().await;
    let admin = app.operator_admin().await;
    let (status, synced) = status_and_json(
        app.post("/api/v1/wechat/menu/sync", Some(&admin.access), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(synced["sandbox"], true);
    assert_eq!(synced["menu"]["button"].as_array().unwrap().len(), 3);
    assert!(
        app.fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn two_instances_with_a_hundred_callers_fetch_the_token_from_wechat_once() {
    let first = wechat_app().await;
    let second = crate::support::spawn_app_on(first.test_db(), configure).await;
    // Both instances talk to the first one's fake WeChat.
    let mut settings = (*second.state.settings).clone();
    settings.wechat.api_base = first.fake_wechat.uri();
    let second_client =
        anjia::wechat::client::WechatClient::new(std::sync::Arc::new(settings)).unwrap();
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "SHARED", "expires_in": 7200}))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&first.fake_wechat)
        .await;
    let mut calls = Vec::new();
    for i in 0..100 {
        let (client, db) = if i % 2 == 0 {
            (first.state.wechat.clone(), first.db.clone())
        } else {
            (second_client.clone(), second.db.clone())
        };
        calls.push(tokio::spawn(async move {
            client
                .access_token(&db, anjia::wechat::client::App::Service)
                .await
        }));
    }
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), "SHARED");
    }
}

#[tokio::test]
async fn invitation_and_pickup_point_qr_codes_are_created_once_and_served_as_images() {
    let app = wechat_app().await;
    mount_token(&app, "T", 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(body_partial_json(json!({"action_name": "QR_STR_SCENE"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==", "expire_seconds": 2592000, "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"})))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let me = app.resident().await;
    let (status, qr) = status_and_json(
        app.post("/api/v1/me/invite-qr", Some(&me.access), json!({}))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(qr["scene"], format!("inv:{}", me.user_id));
    assert_eq!(qr["permanent"], false);
    let (_, cached) = status_and_json(
        app.post("/api/v1/me/invite-qr", Some(&me.access), json!({}))
            .await,
    )
    .await;
    assert_eq!(cached["id"], qr["id"], "cached, not created twice");
    let image = app
        .get(
            &format!(
                "/api/v1/wechat/qr-codes/{}/image",
                qr["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/svg+xml");
    assert!(image.text().await.unwrap().contains("<svg"));

    Mock::given(method("POST"))
        .and(path("/cgi-bin/qrcode/create"))
        .and(body_partial_json(
            json!({"action_name": "QR_LIMIT_STR_SCENE"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ticket": "PERM", "url": "http://weixin.qq.com/q/perm"})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let c = app
        .community(&format!("二维码小区{}", Uuid::now_v7().simple()))
        .await;
    let manager = app.staff(c, "manager").await;
    let (_, point) = status_and_json(app.post(&format!("/api/v1/communities/{c}/pickup-points"), Some(&manager.access), json!({
        "name": "南门驿站", "location": "南门", "opening_hours": [{"weekdays": [1,2,3,4,5], "opens": "09:00", "closes": "18:00"}]
    })).await).await;
    let pp = point["id"].as_str().unwrap();
    let (status, qr) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/pickup-points/{pp}/qr"),
            Some(&manager.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{qr}");
    assert_eq!(qr["permanent"], true);
    assert!(qr["expires_at"].is_null());
    // Scanning it answers with the pickup point's hours.
    let res = post_plain(&app, &event("o_scan", "SCAN", &format!("pp:{pp}"), 9)).await;
    let text = res.text().await.unwrap();
    assert!(
        text.contains("南门驿站") && text.contains("09:00"),
        "{text}"
    );
}

#[tokio::test]
async fn in_sandbox_mode_a_verification_result_lands_in_the_residents_sandbox_inbox() {
    let app = spawn_app().await;
    let c = app
        .community(&format!("沙箱小区{}", Uuid::now_v7().simple()))
        .await;
    let manager = app.staff(c, "manager").await;
    let (_, b) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/buildings"),
            Some(&manager.access),
            json!({"name": "1号楼"}),
        )
        .await,
    )
    .await;
    let (status, h) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{c}/households"),
            Some(&manager.access),
            json!({"building_id": b["id"], "room": "301"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{h}");
    let resident = app
        .dev_login(json!({"phone": "13711112222", "display_name": "新住户"}))
        .await;
    let (status, claim) = status_and_json(app.post(&format!("/api/v1/communities/{c}/claims"), Some(&resident.access), json!({
        "building": "1号楼", "room": "301", "name": "新住户", "role": "tenant", "tenant_until": "2030-01-01T00:00:00Z"
    })).await).await;
    assert_eq!(status, 201, "{claim}");
    let bm = app.staff(c, "building_manager").await;
    let id = claim["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/communities/{c}/claims/{id}/approve"),
            Some(&bm.access),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    wait_for_outbox(&app, "sent", 1).await;

    let (status, inbox) = status_and_json(
        app.get("/api/v1/dev/sandbox/inbox", Some(&resident.access))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{inbox}");
    let item = &inbox["items"][0];
    assert_eq!(item["kind"], "verification_result");
    assert_eq!(item["summary"], "房屋认证已通过：1号楼 301");
    // Nobody else sees it; the operator sees it in the outbox.
    let (_, other) =
        status_and_json(app.get("/api/v1/dev/sandbox/inbox", Some(&bm.access)).await).await;
    assert!(other["items"].as_array().unwrap().is_empty());
    let admin = app.operator_admin().await;
    let (_, sent) = status_and_json(
        app.get(
            "/api/v1/outbox?status=sent&kind=verification_result",
            Some(&admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(sent["items"].as_array().unwrap().len(), 1);
    assert!(
        app.fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty(),
        "the sandbox sends nothing out"
    );
}
