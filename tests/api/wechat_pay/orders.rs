//! An order paid through WeChat Pay: prepay with the order's own amount,
//! only a genuine notification pays it, money that arrives for an order
//! that can no longer take it goes straight back, and reconciliation finds
//! what a lost notification did not say.

use anjia::payment::wechat_pay::crypto::MerchantKey;
use entity::{OrderStatus, RefundStatus, order, refund};
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use super::{entries, status_of};
use crate::support::api::{OrderRequest, Receiving};
use crate::support::fakes::wechat_pay::{APP_ID, Headers, fake_pay, transaction};
use crate::support::fixtures::{Pending, pending_order, shop, world};
use crate::support::status_and_json;

#[tokio::test]
async fn a_resident_pays_through_wechat_pay_and_only_a_genuine_notification_pays_the_order() {
    let fake = fake_pay().await;
    let app = &fake.app;
    let Pending {
        w,
        resident: r,
        id,
        order: o,
        ..
    } = pending_order(&fake).await;

    // Prepay: WeChat answers a prepay id, signed.
    let answer = json!({ "prepay_id": "wx23100000000000000000000000000" }).to_string();
    let prepay = fake.answer(200, &answer);
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/jsapi"))
        .respond_with(prepay)
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let paying = app.pay(&r, w.community, &id).await;
    assert_eq!(
        paying["status"], "pending_payment",
        "paid only by the notification"
    );
    let params = &paying["payment"]["request_payment"];
    assert_eq!(paying["payment"]["provider"], "wechat_pay");
    assert_eq!(
        params["package"],
        "prepay_id=wx23100000000000000000000000000"
    );
    assert_eq!(
        (params["appId"].as_str(), params["signType"].as_str()),
        (Some(APP_ID), Some("RSA"))
    );
    assert!(fake.merchant_signed(
        &format!(
            "{APP_ID}\n{}\n{}\n{}\n",
            params["timeStamp"].as_str().unwrap(),
            params["nonceStr"].as_str().unwrap(),
            params["package"].as_str().unwrap()
        ),
        params["paySign"].as_str().unwrap()
    ));
    // What anjia sent: the order's own amount and number, its deadline, signed.
    let sent = &app.fake_wechat.received_requests().await.unwrap()[0];
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["amount"]["total"], 13_600);
    assert_eq!(body["out_trade_no"], o.order_no.as_str());
    assert_eq!(body["payer"]["openid"], format!("o-{}", r.user_id.simple()));
    // Nothing is frozen at WeChat Pay for profit sharing: the property holds
    // the money in escrow and pays merchants out by transfer.
    assert!(body.get("settle_info").is_none(), "{body}");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(body["time_expire"].as_str().unwrap())
            .unwrap()
            .timestamp(),
        o.payment_deadline.timestamp()
    );
    let authorization = sent.headers.get("Authorization").unwrap().to_str().unwrap();
    let field = |name: &str| {
        authorization
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned()
    };
    assert!(authorization.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\""));
    assert!(fake.merchant_signed(
        &format!(
            "POST\n/v3/pay/transactions/jsapi\n{}\n{}\n{}\n",
            field("timestamp"),
            field("nonce_str"),
            String::from_utf8_lossy(&sent.body)
        ),
        &field("signature")
    ));

    // Every forgery is refused, and nothing changes.
    let now = chrono::Utc::now().timestamp();
    let genuine = fake.notification(&transaction(&o.order_no, 13_600));
    let forged_key = {
        let mut h = fake.signed(&genuine, now);
        let other_key = RsaPrivateKey::new(&mut rand_core_06::OsRng, 2048).unwrap();
        let other =
            MerchantKey::from_pkcs8_der("", "", other_key.to_pkcs8_der().unwrap().as_bytes())
                .unwrap();
        h[2].1 = other
            .sign(&format!("{now}\n{}\n{genuine}\n", h[1].1))
            .unwrap();
        h
    };
    let wrong_serial = {
        let mut h = fake.signed(&genuine, now);
        h[3].1 = "PUB_KEY_ID_SOMEONE_ELSE".into();
        h
    };
    let signtest = {
        let mut h = fake.signed(&genuine, now);
        h[2].1 = "WECHATPAY/SIGNTEST/9f2a".into();
        h
    };
    let tampered = genuine.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ");
    let refusals: Vec<(&str, String, Headers, u16)> = vec![
        ("forged signature", genuine.clone(), forged_key, 401),
        ("wrong key serial", genuine.clone(), wrong_serial, 401),
        ("SIGNTEST probe", genuine.clone(), signtest, 401),
        (
            "stale timestamp",
            genuine.clone(),
            fake.signed(&genuine, now - 301),
            401,
        ),
        ("tampered body", tampered, fake.signed(&genuine, now), 401),
        (
            "wrong amount",
            fake.notification(&transaction(&o.order_no, 1)),
            fake.signed(&fake.notification(&transaction(&o.order_no, 1)), now),
            400,
        ),
        (
            "unknown order",
            fake.notification(&transaction("20261123999999999999", 13_600)),
            fake.signed(
                &fake.notification(&transaction("20261123999999999999", 13_600)),
                now,
            ),
            404,
        ),
    ];
    for (what, body, headers, expected) in refusals {
        let (status, answer) = fake.send(&body, &headers).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert_eq!(answer["code"], "FAIL", "{what}");
        assert!(answer["message"].is_string(), "{what}");
        assert_eq!(
            status_of(app, &o).await,
            OrderStatus::PendingPayment,
            "{what}"
        );
        assert_eq!(entries(app).await, 0, "{what}");
    }
    let mut other_merchant = transaction(&o.order_no, 13_600);
    other_merchant["mchid"] = json!("1900000002");
    let body = fake.notification(&other_merchant);
    let (status, _) = fake.send(&body, &fake.signed(&body, now)).await;
    assert_eq!(status, 400, "another merchant's notification");
    assert_eq!(entries(app).await, 0);

    // Fifty copies of the genuine notification at once: paid once.
    let headers = fake.signed(&genuine, now);
    let answers =
        futures_util::future::join_all((0..50).map(|_| fake.send(&genuine, &headers))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 204, "{answer}");
    }
    assert_eq!(status_of(app, &o).await, OrderStatus::Paid);
    assert_eq!(entries(app).await, 1, "one payment in the ledger");
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    assert_eq!(
        anjia::ledger::escrow_of(&app.db, o.community_id, o.id)
            .await
            .unwrap(),
        13_600
    );
}

#[tokio::test]
async fn money_notified_for_an_order_that_has_closed_goes_straight_back() {
    let fake = fake_pay().await;
    let app = &fake.app;
    let Pending {
        w,
        resident: r,
        id,
        order: o,
        ..
    } = pending_order(&fake).await;
    let (status, _) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders/{id}/cancel", w.community),
            Some(&r.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let body = fake.notification(&transaction(&o.order_no, 13_600));
    let headers = fake.signed(&body, chrono::Utc::now().timestamp());
    for _ in 0..2 {
        let (status, answer) = fake.send(&body, &headers).await;
        assert_eq!(status, 204, "{answer}");
    }
    assert_eq!(status_of(app, &o).await, OrderStatus::Cancelled);
    let refunds = refund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(refunds.len(), 1, "one refund, however often WeChat retries");
    assert_eq!(refunds[0].amount.as_i64(), 13_600);
    assert_eq!(refunds[0].provider, "wechat_pay");
    assert_eq!(
        anjia::ledger::escrow_of(&app.db, o.community_id, o.id)
            .await
            .unwrap(),
        0
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);

    // Its notification never comes: ten minutes on, reconciliation asks
    // WeChat Pay and records the answer.
    let answer = json!({ "out_refund_no": refunds[0].id.to_string(), "status": "SUCCESS",
                          "amount": { "refund": 13_600, "total": 13_600 } })
    .to_string();
    let done = fake.answer(200, &answer);
    Mock::given(method("GET"))
        .and(path(format!(
            "/v3/refund/domestic/refunds/{}",
            refunds[0].id
        )))
        .respond_with(done)
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let later = chrono::Utc::now() + chrono::Duration::minutes(11);
    anjia::payment::wechat_pay::reconcile::reconcile(
        &app.state.db,
        &app.state.settings,
        app.state.wechat_pay.as_deref(),
        later,
        100,
    )
    .await
    .unwrap();
    let refunds = refund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(refunds[0].status, RefundStatus::Succeeded);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn money_notified_after_the_merchant_was_suspended_goes_straight_back() {
    let fake = fake_pay().await;
    let app = &fake.app;
    let Pending {
        w, order: o, shop, ..
    } = pending_order(&fake).await;
    let (status, body) = status_and_json(
        app.post(
            &format!(
                "/api/v1/communities/{}/merchants/{shop}/suspend",
                w.community
            ),
            Some(&w.manager.access),
            json!({ "reason": "无证经营" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The resident had already paid at WeChat Pay: its notification comes now.
    let body = fake.notification(&transaction(&o.order_no, 13_600));
    let headers = fake.signed(&body, chrono::Utc::now().timestamp());
    let (status, answer) = fake.send(&body, &headers).await;
    assert_eq!(status, 204, "{answer}");
    let now = order::Entity::find_by_id(o.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.status, OrderStatus::Expired);
    assert_eq!(
        now.status_reason.as_deref(),
        Some("the merchant may not sell here now; refunded")
    );
    let refunds = refund::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].amount.as_i64(), 13_600);
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn a_resident_without_a_mini_program_sign_in_is_told_how_to_pay() {
    let fake = fake_pay().await;
    let app = &fake.app;
    let w = world(app, 1).await;
    let (_, shop, product) = shop(app, &w).await;
    let r = &w.residents[0];
    let request = OrderRequest::of(&shop, &product, 1, Receiving::at(&w.point));
    let (_, o) = status_and_json(app.try_place_order(r, w.community, &request).await).await;
    let res = app.try_pay(r, w.community, o["id"].as_str().unwrap()).await;
    crate::support::assert_error(res, 409, "payment_unavailable").await;
    assert!(
        app.fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn reconciliation_finds_a_lost_notification_and_closes_an_expired_order_at_wechat_pay() {
    let fake = fake_pay().await;
    let app = &fake.app;
    let answer = json!({ "prepay_id": "wx23100000000000000000000000001" }).to_string();
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/jsapi"))
        .respond_with(fake.answer(200, &answer))
        .mount(&app.fake_wechat)
        .await;
    let mut prepaid = Vec::new();
    for _ in 0..2 {
        let p = pending_order(&fake).await;
        app.pay(&p.resident, p.w.community, &p.id).await;
        prepaid.push(p.order);
    }
    let (lost, abandoned) = (&prepaid[0], &prepaid[1]);
    // WeChat Pay took the first payment, but its notification never came.
    let mut paid = transaction(&lost.order_no, 13_600);
    paid["trade_state"] = json!("SUCCESS");
    Mock::given(method("GET"))
        .and(path(format!(
            "/v3/pay/transactions/out-trade-no/{}",
            lost.order_no
        )))
        .respond_with(fake.answer(200, &paid.to_string()))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let mut unpaid = transaction(&abandoned.order_no, 13_600);
    unpaid["trade_state"] = json!("NOTPAY");
    Mock::given(method("GET"))
        .and(path(format!(
            "/v3/pay/transactions/out-trade-no/{}",
            abandoned.order_no
        )))
        .respond_with(fake.answer(200, &unpaid.to_string()))
        .expect(2)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v3/pay/transactions/out-trade-no/{}/close",
            abandoned.order_no
        )))
        .respond_with(fake.answer(204, ""))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;

    // Within a minute of the prepay nobody is asked.
    let now = chrono::Utc::now();
    let state = &app.state;
    assert_eq!(
        anjia::payment::wechat_pay::reconcile::reconcile(
            &state.db,
            &state.settings,
            state.wechat_pay.as_deref(),
            now,
            100
        )
        .await
        .unwrap(),
        0
    );
    // Two minutes on: the lost payment is applied; the other is still open.
    let later = now + chrono::Duration::minutes(2);
    assert_eq!(
        anjia::payment::wechat_pay::reconcile::reconcile(
            &state.db,
            &state.settings,
            state.wechat_pay.as_deref(),
            later,
            100
        )
        .await
        .unwrap(),
        2
    );
    assert_eq!(status_of(app, lost).await, OrderStatus::Paid);
    assert_eq!(status_of(app, abandoned).await, OrderStatus::PendingPayment);
    // Past its deadline it expires here and is closed there; then nobody asks again.
    let report = anjia::jobs::sweep(state, now + chrono::Duration::minutes(20))
        .await
        .unwrap();
    assert_eq!((report.expired, report.reconciled), (1, 1), "{report:?}");
    assert_eq!(status_of(app, abandoned).await, OrderStatus::Expired);
    let report = anjia::jobs::sweep(state, now + chrono::Duration::minutes(40))
        .await
        .unwrap();
    assert_eq!(report.reconciled, 0, "{report:?}");
    assert_eq!(entries(app).await, 1, "one payment in the ledger");
    let ledger = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(ledger.ok(), "{:#?}", ledger.problems);
}

#[tokio::test]
async fn a_payment_made_before_the_deadline_counts_and_one_made_after_it_goes_back_once() {
    use sea_orm::{ColumnTrait, QueryFilter};
    let fake = fake_pay().await;
    let app = &fake.app;
    let on_time = pending_order(&fake).await.order;
    let too_late = pending_order(&fake).await.order;
    // Both deadlines passed a minute ago; neither order has been swept yet.
    let deadline = chrono::Utc::now() - chrono::Duration::minutes(1);
    order::Entity::update_many()
        .col_expr(
            order::Column::PaymentDeadline,
            sea_orm::sea_query::Expr::value(deadline),
        )
        .filter(order::Column::Id.is_in([on_time.id, too_late.id]))
        .exec(&app.db)
        .await
        .unwrap();
    let paid_at = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&chrono_tz::Asia::Shanghai)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    };
    let now = chrono::Utc::now().timestamp();
    // Paid ten seconds before the deadline; the notification comes late.
    let mut tx = transaction(&on_time.order_no, 13_600);
    tx["success_time"] = json!(paid_at(deadline - chrono::Duration::seconds(10)));
    let body = fake.notification(&tx);
    assert_eq!(fake.send(&body, &fake.signed(&body, now)).await.0, 204);
    assert_eq!(status_of(app, &on_time).await, OrderStatus::Paid);

    // Paid after the deadline: refunded, the order expires, and a retry of
    // the notification changes nothing.
    let mut tx = transaction(&too_late.order_no, 13_600);
    tx["success_time"] = json!(paid_at(deadline + chrono::Duration::seconds(10)));
    let body = fake.notification(&tx);
    for _ in 0..2 {
        assert_eq!(fake.send(&body, &fake.signed(&body, now)).await.0, 204);
    }
    assert_eq!(status_of(app, &too_late).await, OrderStatus::Expired);
    let refunds = refund::Entity::find()
        .filter(refund::Column::OrderId.eq(too_late.id))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(entries(app).await, 3, "two payments and one refund decided");
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}
