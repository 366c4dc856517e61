//! The outbox: written with the change, delivered by any instance's worker
//! exactly once, retried while WeChat fails, not retried when it refuses.

use entity::{OutboxStatus, UserId, WechatIdentityId, wechat_identity};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::fakes::wechat::{APP_ID, configure};
use crate::support::outbox::wait_for_outbox;
use crate::support::{TestApp, assert_error, spawn_app_on, spawn_app_with, status_and_json};

fn with_template(s: &mut anjia::config::Settings) {
    configure(s);
    let kind = s.messages.get_mut("verification_result").unwrap();
    kind.template_id = "TPL_VERIFY".into();
}

async fn follower(app: &TestApp, openid: &str) -> UserId {
    let user = app.resident().await;
    let now = chrono::Utc::now();
    wechat_identity::ActiveModel {
        id: Set(WechatIdentityId::new()),
        user_id: Set(UserId::from_uuid(user.user_id)),
        app_id: Set(APP_ID.into()),
        openid: Set(openid.into()),
        unionid: Set(None),
        session_key_enc: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.db)
    .await
    .unwrap();
    UserId::from_uuid(user.user_id)
}

#[tokio::test]
async fn pending_messages_survive_a_restart_and_are_delivered_once_after_wechat_recovers() {
    // The first instance queues messages but delivers nothing (its worker is off).
    let first = spawn_app_with(|s| {
        with_template(s);
        s.outbox.worker = false;
    })
    .await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(follower(&first, &format!("o_f{i}")).await);
    }
    let refused = follower(&first, "o_refused").await;
    for user in users.iter().chain([&refused]) {
        anjia::outbox::service::notify(
            &first.db,
            &first.state.settings,
            *user,
            "verification_result",
            &[
                ("result", "已通过".into()),
                ("household", "1号楼 101".into()),
            ],
        )
        .await
        .unwrap();
    }
    let queued = entity::outbox_message::Entity::find()
        .all(&first.db)
        .await
        .unwrap();
    assert_eq!(queued.len(), 6);
    assert!(queued.iter().all(|m| m.status == OutboxStatus::Pending));
    let payload: Value = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(payload["template_id"], "TPL_VERIFY");
    assert_eq!(payload["data"]["thing1"]["value"], "1号楼 101");

    // Two fresh instances with workers start on the same database; WeChat
    // fails for a while, refuses one person for good, then recovers.
    let second = spawn_app_on(first.test_db(), with_template).await;
    let fake = &second.fake_wechat;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "T", "expires_in": 7200})),
        )
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/template/send"))
        .and(body_partial_json(json!({"touser": "o_refused"})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"errcode": 43101, "errmsg": "user refuse to accept the msg"}),
            ),
        )
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/template/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": -1, "errmsg": "system error"})),
        )
        .up_to_n_times(4)
        .mount(fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/template/send"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 0, "errmsg": "ok", "msgid": 1})),
        )
        .mount(fake)
        .await;
    let third_settings_uri = fake.uri();
    let _third = spawn_app_on(first.test_db(), |s| {
        with_template(s);
        s.wechat.api_base = third_settings_uri.clone();
    })
    .await;

    wait_for_outbox(&second, "sent", 5).await;
    let failed = wait_for_outbox(&second, "failed", 1).await;
    assert_eq!(failed[0].openid.as_deref(), Some("o_refused"));
    assert_eq!(failed[0].attempts, 1, "a permanent refusal is not retried");
    assert!(failed[0].last_error.as_deref().unwrap().contains("43101"));

    let sends: Vec<Value> = fake
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/cgi-bin/message/template/send")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let to_followers: Vec<&Value> = sends
        .iter()
        .filter(|b| b["touser"] != "o_refused")
        .collect();
    // 4 failed attempts + exactly one accepted delivery per message.
    assert_eq!(to_followers.len(), 4 + 5, "{to_followers:?}");
    let mut ids: Vec<&str> = to_followers
        .iter()
        .map(|b| b["client_msg_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 5);

    // Operators see the failure with its reason and can send it again.
    let admin = second.operator_admin().await;
    let (_, list) = status_and_json(
        second
            .get("/api/v1/outbox?status=failed", Some(&admin.access))
            .await,
    )
    .await;
    assert_eq!(list["items"][0]["openid"], "o_refu***");
    let id = list["items"][0]["id"].as_str().unwrap();
    let (status, retried) = status_and_json(
        second
            .post(
                &format!("/api/v1/outbox/{id}/retry"),
                Some(&admin.access),
                json!({}),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["status"], "pending");
    let sent_id = {
        let (_, sent) = status_and_json(
            second
                .get("/api/v1/outbox?status=sent", Some(&admin.access))
                .await,
        )
        .await;
        sent["items"][0]["id"].as_str().unwrap().to_owned()
    };
    assert_error(
        second
            .post(
                &format!("/api/v1/outbox/{sent_id}/retry"),
                Some(&admin.access),
                json!({}),
            )
            .await,
        409,
        "invalid_transition",
    )
    .await;
}

#[tokio::test]
async fn the_send_rate_is_limited_across_the_outbox() {
    // Sandbox delivery (no WeChat app), two messages per second at most.
    let app = spawn_app_with(|s| s.outbox.rate_per_sec = 2).await;
    let someone = app.resident().await;
    for _ in 0..5 {
        anjia::outbox::service::notify(
            &app.db,
            &app.state.settings,
            UserId::from_uuid(someone.user_id),
            "verification_result",
            &[
                ("result", "已通过".into()),
                ("household", "1号楼 101".into()),
            ],
        )
        .await
        .unwrap();
    }
    let mut sent: Vec<_> = wait_for_outbox(&app, "sent", 5)
        .await
        .into_iter()
        .map(|m| m.sent_at.unwrap())
        .collect();
    sent.sort_unstable();
    // At most two per window of at least a second: the fifth went out two
    // windows after the first (less the first's own sending time).
    let spread = sent[4] - sent[0];
    assert!(
        spread >= chrono::Duration::milliseconds(900),
        "five messages at 2/s went out within {spread}"
    );
}
