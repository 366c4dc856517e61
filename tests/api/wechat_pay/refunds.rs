//! Refunds through WeChat Pay's refund API: decided before a crash and sent
//! after the restart, a dispute's partial refund, and money WeChat Pay could
//! not refund held until finance retry it.

use std::sync::Arc;

use anjia::payment::wechat_pay::crypto;
use entity::{RefundStatus, refund};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use super::entries;
use crate::support::api::OrderMove;
use crate::support::fakes::wechat_pay::{API_V3_KEY, MCH_ID, instance, keys, transaction};
use crate::support::fixtures::pending_order;
use crate::support::{TestDb, status_and_json};

#[tokio::test]
async fn a_refund_decided_before_a_crash_is_sent_after_restart_and_completes_on_its_notification() {
    let keys = keys();
    let db = Arc::new(TestDb::new().await);
    // The first instance decides the refund but never gets to call WeChat
    // Pay (its outbox worker is off: as if killed right after the commit).
    let first = instance(&keys, db.clone(), false).await;
    let p = pending_order(&first).await;
    let o = &p.order;
    let paid = first.notification(&transaction(&o.order_no, 13_600));
    let (status, _) = first
        .send(&paid, &first.signed(&paid, chrono::Utc::now().timestamp()))
        .await;
    assert_eq!(status, 204);
    let out_of_stock = OrderMove::to("rejected").because("今日缺货");
    first
        .app
        .move_order(&p.seller, &p.shop, &p.id, &out_of_stock)
        .await;
    let decided = refund::Entity::find().all(&first.app.db).await.unwrap();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].status, RefundStatus::Pending);
    assert_eq!(
        anjia::ledger::balance(&first.app.db, anjia::ledger::Account::refunds_in_flight())
            .await
            .unwrap(),
        13_600,
        "out of escrow, not yet back with the resident"
    );
    assert!(
        first
            .app
            .fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );

    // After the restart, the worker's next round sends it.
    let second = instance(&keys, db, false).await;
    let answer = json!({ "refund_id": "50000000382019052709732678859", "out_refund_no": decided[0].id.to_string(),
                          "status": "PROCESSING", "amount": { "refund": 13_600, "total": 13_600 } })
    .to_string();
    let accepted = second.answer(200, &answer);
    Mock::given(method("POST"))
        .and(path("/v3/refund/domestic/refunds"))
        .respond_with(accepted)
        .expect(1)
        .mount(&second.app.fake_wechat)
        .await;
    // (The round also delivers the residents' messages to the sandbox inbox.)
    assert!(
        anjia::startup::outbox_worker(&second.app.state)
            .deliver_due()
            .await
            .unwrap()
            >= 1
    );
    let received = second.app.fake_wechat.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one refund request");
    let sent = &received[0];
    let request: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(request["out_refund_no"], decided[0].id.to_string());
    assert_eq!(request["out_trade_no"], o.order_no.as_str());
    assert_eq!(
        request["amount"],
        json!({ "refund": 13_600, "total": 13_600, "currency": "CNY" })
    );
    assert_eq!(
        request["notify_url"],
        "https://anjia.example/wechat/pay/refund-notify"
    );
    assert!(
        sent.headers
            .get("Authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("WECHATPAY2-SHA256-RSA2048 ")
    );
    assert_eq!(
        anjia::startup::outbox_worker(&second.app.state)
            .deliver_due()
            .await
            .unwrap(),
        0,
        "sent once"
    );

    // WeChat Pay reports the refund done: recorded once, however often told.
    let key = crypto::api_v3_key(API_V3_KEY).unwrap();
    let result = json!({ "mchid": MCH_ID, "out_trade_no": o.order_no, "transaction_id": "4200000000202611230000000001",
        "out_refund_no": decided[0].id.to_string(), "refund_id": "50000000382019052709732678859",
        "refund_status": "SUCCESS", "success_time": "2026-11-23T10:10:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": { "total": 13_600, "refund": 13_600, "payer_total": 13_600, "payer_refund": 13_600 } });
    let body = json!({
        "id": "EV-refund-1", "create_time": "2026-11-23T10:10:00+08:00",
        "resource_type": "encrypt-resource", "event_type": "REFUND.SUCCESS", "summary": "退款成功",
        "resource": { "original_type": "refund", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": crypto::encrypt(&key, "0123456789ab", "refund", result.to_string().as_bytes()).unwrap(),
            "associated_data": "refund", "nonce": "0123456789ab" }
    })
    .to_string();
    let headers = second.signed(&body, chrono::Utc::now().timestamp());
    for _ in 0..2 {
        let res = second
            .app
            .client
            .post(format!("{}/wechat/pay/refund-notify", second.app.address))
            .headers(
                headers
                    .iter()
                    .map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
                    .collect(),
            )
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    let done = refund::Entity::find().all(&second.app.db).await.unwrap();
    assert_eq!(done[0].status, RefundStatus::Succeeded);
    assert_eq!(
        anjia::ledger::balance(&second.app.db, anjia::ledger::Account::refunds_in_flight())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        entries(&second.app).await,
        3,
        "payment, refund decided, refund paid"
    );
    let report = anjia::ledger::verify(&second.app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn a_dispute_settled_with_a_partial_refund_is_refunded_through_wechat_pay_and_the_rest_settles()
 {
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    let o = &p.order;
    let paid = fake.notification(&transaction(&o.order_no, 13_600));
    let (status, _) = fake
        .send(&paid, &fake.signed(&paid, chrono::Utc::now().timestamp()))
        .await;
    assert_eq!(status, 204);
    for step in ["accepted", "preparing", "ready_for_pickup"] {
        app.move_order(&p.seller, &p.shop, &p.id, &OrderMove::to(step))
            .await;
    }

    // The resident asks for everything back; the merchant offers 50.00;
    // the resident takes it.
    let base = format!("/api/v1/communities/{}", p.w.community);
    let (status, opened) = status_and_json(
        app.post(
            &format!("{base}/orders/{}/dispute", p.id),
            Some(&p.resident.access),
            json!({ "reason": "橙子有一箱是坏的" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["dispute"]["requested_refund"], 13_600);
    let dispute = opened["dispute"]["id"].as_str().unwrap().to_owned();
    let (status, body) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{}/disputes/{dispute}/answer", p.shop),
            Some(&p.seller.access),
            json!({ "action": "propose", "refund": 5000, "note": "退一半的钱" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, resolved) = status_and_json(
        app.post(
            &format!("{base}/disputes/{dispute}/reply"),
            Some(&p.resident.access),
            json!({ "action": "accept_proposal" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{resolved}");
    assert_eq!(resolved["dispute"]["refund_amount"], 5000);
    assert_eq!(resolved["order_status"], "completed");
    assert_eq!(resolved["held"], 8600);
    let decided = refund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0].status, RefundStatus::Pending);

    // The outbox sends the partial refund to WeChat Pay, which pays it at once.
    let answer = json!({ "refund_id": "50000000382019052709732678860", "out_refund_no": decided[0].id.to_string(),
                          "status": "SUCCESS", "amount": { "refund": 5000, "total": 13_600 } })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v3/refund/domestic/refunds"))
        .respond_with(fake.answer(200, &answer))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    assert!(
        anjia::startup::outbox_worker(&app.state)
            .deliver_due()
            .await
            .unwrap()
            >= 1
    );
    let received = app.fake_wechat.received_requests().await.unwrap();
    let request: Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(
        request["amount"],
        json!({ "refund": 5000, "total": 13_600, "currency": "CNY" })
    );
    assert_eq!(request["out_trade_no"], o.order_no.as_str());
    let done = refund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(done[0].status, RefundStatus::Succeeded);

    // The rest settles to the merchant at the cutoff.
    let settled = anjia::settlement::service::settle_due(
        &app.db,
        &app.state.settings.payment,
        chrono::Utc::now() + chrono::Duration::days(1),
        100,
    )
    .await
    .unwrap();
    assert_eq!(settled, 1);
    let (_, balance) = status_and_json(
        app.get(
            &format!("/api/v1/merchants/{}/balance", p.shop),
            Some(&p.seller.access),
        )
        .await,
    )
    .await;
    assert_eq!(balance["communities"][0]["available"], 8600, "{balance}");
    assert_eq!(
        anjia::ledger::balance(&app.db, anjia::ledger::Account::refunds_in_flight())
            .await
            .unwrap(),
        0
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn money_of_a_dispute_refund_wechat_pay_could_not_make_is_held_until_finance_retry_it() {
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    let paid = fake.notification(&transaction(&p.order.order_no, 13_600));
    let (status, _) = fake
        .send(&paid, &fake.signed(&paid, chrono::Utc::now().timestamp()))
        .await;
    assert_eq!(status, 204);
    for step in ["accepted", "preparing", "ready_for_pickup"] {
        app.move_order(&p.seller, &p.shop, &p.id, &OrderMove::to(step))
            .await;
    }
    let (status, opened) = status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/orders/{}/dispute",
                p.w.community, p.id
            ),
            Some(&p.resident.access),
            json!({ "reason": "少了一箱", "refund": 6_800 }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{opened}");
    let dispute = opened["dispute"]["id"].as_str().unwrap();
    let (status, accepted) = status_and_json(
        app.post(
            &format!("/api/v1/merchants/{}/disputes/{dispute}/answer", p.shop),
            Some(&p.seller.access),
            json!({ "action": "accept" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["order_status"], "completed");
    // WeChat Pay cannot make the refund (the resident's card is gone).
    let refund_id = refund::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let answer = json!({ "refund_id": "50000000382019052709732678861", "out_refund_no": refund_id.to_string(),
                          "status": "ABNORMAL", "amount": { "refund": 6_800, "total": 13_600 } })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v3/refund/domestic/refunds"))
        .respond_with(fake.answer(200, &answer))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    assert!(
        anjia::startup::outbox_worker(&app.state)
            .deliver_due()
            .await
            .unwrap()
            >= 1
    );
    let failed = refund::Entity::find().one(&app.db).await.unwrap().unwrap();
    assert_eq!(failed.status, RefundStatus::Failed);

    // The resident's 68.00 must not reach the merchant: the order is held.
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let settled =
        anjia::settlement::service::settle_due(&app.db, &app.state.settings.payment, later, 100)
            .await
            .unwrap();
    assert_eq!(settled, 0);
    assert_eq!(
        anjia::ledger::escrow_of(&app.db, p.order.community_id, p.order.id)
            .await
            .unwrap(),
        13_600
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);

    // Finance find it and refund it into the household's wallet instead;
    // then the rest settles to the merchant.
    let finance = app.staff(p.w.community, "finance").await;
    let refunds = format!("/api/v1/communities/{}/refunds", p.w.community);
    let (_, waiting) = status_and_json(
        app.get(&format!("{refunds}?status=failed"), Some(&finance.access))
            .await,
    )
    .await;
    assert_eq!(waiting.as_array().unwrap().len(), 1, "{waiting}");
    assert_eq!(waiting[0]["order_no"], p.order.order_no.as_str());
    let retry = format!("{refunds}/{}/retry", waiting[0]["id"].as_str().unwrap());
    let (status, retried) = status_and_json(
        app.post(
            &retry,
            Some(&finance.access),
            json!({ "refund_to": "wallet" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(
        (&retried["status"], &retried["provider"], &retried["amount"]),
        (&json!("succeeded"), &json!("wallet"), &json!(6_800))
    );
    let (status, _) =
        status_and_json(app.post(&retry, Some(&finance.access), json!({})).await).await;
    assert_eq!(status, 409, "retried once");
    assert_eq!(
        anjia::ledger::balance(
            &app.db,
            anjia::ledger::Account::household_wallet(p.order.household_id)
        )
        .await
        .unwrap(),
        6_800
    );
    let settled =
        anjia::settlement::service::settle_due(&app.db, &app.state.settings.payment, later, 100)
            .await
            .unwrap();
    assert_eq!(settled, 1, "the rest settles now");
    assert_eq!(
        anjia::ledger::balance(
            &app.db,
            anjia::ledger::Account::merchant_payable(
                p.shop.parse().unwrap(),
                entity::CommunityId::from_uuid(p.w.community)
            )
        )
        .await
        .unwrap(),
        6_800
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}
