//! A property fee bill paid partly from the wallet and partly through
//! WeChat Pay, and reconciliation of fee payments whose notification was
//! lost or that were abandoned.

use std::sync::Arc;

use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::support::fakes::wechat_pay::{instance, keys, transaction};
use crate::support::fixtures::pending_order;
use crate::support::{TestDb, status_and_json};

#[tokio::test]
async fn a_fee_bill_is_paid_half_from_the_wallet_and_half_by_wechat_pay() {
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    let base = format!("/api/v1/communities/{}", p.w.community);
    // The household's wallet holds 136.00: an order paid by WeChat Pay and
    // cancelled into the wallet.
    let paid = fake.notification(&transaction(&p.order.order_no, 13_600));
    let (status, _) = fake
        .send(&paid, &fake.signed(&paid, chrono::Utc::now().timestamp()))
        .await;
    assert_eq!(status, 204);
    let res = app
        .post(
            &format!("{base}/orders/{}/cancel", p.id),
            Some(&p.resident.access),
            json!({ "refund_to": "wallet" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let household = p.order.household_id;
    let wallet = || async {
        anjia::ledger::balance(&app.db, anjia::ledger::Account::household_wallet(household))
            .await
            .unwrap()
    };
    assert_eq!(wallet().await, 13_600);

    // Finance bill the household 200.00 for the quarter.
    let finance = app.staff(p.w.community, "finance").await;
    anjia::fees::service::issue(
        &app.db,
        entity::CommunityId::from_uuid(p.w.community),
        "2026-Q4",
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        "imported",
        entity::UserId::from_uuid(finance.user_id),
        vec![anjia::fees::service::NewBill {
            household,
            amount: entity::Fen::new(20_000).unwrap(),
            area_centi_m2: None,
            rate_fen: None,
        }],
    )
    .await
    .unwrap();
    let (_, bills) = status_and_json(
        app.get(
            &format!("{base}/households/{household}/fee-bills"),
            Some(&p.resident.access),
        )
        .await,
    )
    .await;
    let bill = bills[0]["id"].as_str().unwrap().to_owned();

    // 100.00 from the wallet, the other 100.00 by WeChat Pay.
    let answer = json!({ "prepay_id": "wx23100000000000000000000000001" }).to_string();
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/jsapi"))
        .respond_with(fake.answer(200, &answer))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let (status, paying) = status_and_json(
        app.post(
            &format!("{base}/fee-bills/{bill}/pay"),
            Some(&p.resident.access),
            json!({ "wallet": 10_000 }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{paying}");
    assert_eq!(paying["bill"]["status"], "partially_paid");
    assert_eq!(paying["bill"]["outstanding"], 10_000);
    assert_eq!(
        paying["request_payment"]["package"],
        "prepay_id=wx23100000000000000000000000001"
    );
    assert_eq!(wallet().await, 3_600, "the wallet part is taken at once");
    let sent: Value =
        serde_json::from_slice(&app.fake_wechat.received_requests().await.unwrap()[0].body)
            .unwrap();
    assert_eq!(sent["amount"]["total"], 10_000, "only the rest");
    let trade_no = sent["out_trade_no"].as_str().unwrap().to_owned();
    assert!(trade_no.starts_with('F'), "{trade_no}");

    // A wrong amount is refused; the genuine notification pays the rest, once.
    let wrong = fake.notification(&transaction(&trade_no, 20_000));
    let (status, _) = fake
        .send(&wrong, &fake.signed(&wrong, chrono::Utc::now().timestamp()))
        .await;
    assert_eq!(status, 400);
    let right = fake.notification(&transaction(&trade_no, 10_000));
    for _ in 0..2 {
        let (status, _) = fake
            .send(&right, &fake.signed(&right, chrono::Utc::now().timestamp()))
            .await;
        assert_eq!(status, 204);
    }
    let (_, receipt) = status_and_json(
        app.get(
            &format!("{base}/fee-bills/{bill}"),
            Some(&p.resident.access),
        )
        .await,
    )
    .await;
    assert_eq!(receipt["status"], "paid", "{receipt}");
    assert_eq!(receipt["paid_amount"], 20_000);
    let methods: Vec<(&str, i64, &str)> = receipt["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["method"].as_str().unwrap(),
                p["amount"].as_i64().unwrap(),
                p["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("wallet", 10_000, "succeeded"),
            ("wechat_pay", 10_000, "succeeded")
        ]
    );
    assert_eq!(
        anjia::ledger::balance(&app.db, anjia::ledger::Account::fee_receivable(household))
            .await
            .unwrap(),
        0,
        "nothing owed"
    );
    let res = app
        .post(
            &format!("{base}/fee-bills/{bill}/pay"),
            Some(&p.resident.access),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 409, "paid already");
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}

#[tokio::test]
async fn reconciliation_applies_a_lost_fee_payment_and_closes_an_abandoned_one() {
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    let base = format!("/api/v1/communities/{}", p.w.community);
    let household = p.order.household_id;
    let finance = app.staff(p.w.community, "finance").await;
    for period in ["2026-Q3", "2026-Q4"] {
        anjia::fees::service::issue(
            &app.db,
            entity::CommunityId::from_uuid(p.w.community),
            period,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            "imported",
            entity::UserId::from_uuid(finance.user_id),
            vec![anjia::fees::service::NewBill {
                household,
                amount: entity::Fen::new(5_000).unwrap(),
                area_centi_m2: None,
                rate_fen: None,
            }],
        )
        .await
        .unwrap();
    }
    let answer = json!({ "prepay_id": "wx23100000000000000000000000002" }).to_string();
    Mock::given(method("POST"))
        .and(path("/v3/pay/transactions/jsapi"))
        .respond_with(fake.answer(200, &answer))
        .mount(&app.fake_wechat)
        .await;
    let (_, bills) = status_and_json(
        app.get(
            &format!("{base}/households/{household}/fee-bills"),
            Some(&p.resident.access),
        )
        .await,
    )
    .await;
    let mut trades = Vec::new();
    for bill in bills.as_array().unwrap() {
        let res = app
            .post(
                &format!("{base}/fee-bills/{}/pay", bill["id"].as_str().unwrap()),
                Some(&p.resident.access),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let sent = app.fake_wechat.received_requests().await.unwrap();
        let body: Value = serde_json::from_slice(&sent.last().unwrap().body).unwrap();
        trades.push((
            bill["id"].as_str().unwrap().to_owned(),
            body["out_trade_no"].as_str().unwrap().to_owned(),
        ));
    }
    let ((lost_bill, lost), (abandoned_bill, abandoned)) = (&trades[0], &trades[1]);
    let mut paid = transaction(lost, 5_000);
    paid["trade_state"] = json!("SUCCESS");
    Mock::given(method("GET"))
        .and(path(format!("/v3/pay/transactions/out-trade-no/{lost}")))
        .respond_with(fake.answer(200, &paid.to_string()))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let mut unpaid = transaction(abandoned, 5_000);
    unpaid["trade_state"] = json!("NOTPAY");
    Mock::given(method("GET"))
        .and(path(format!(
            "/v3/pay/transactions/out-trade-no/{abandoned}"
        )))
        .respond_with(fake.answer(200, &unpaid.to_string()))
        .expect(2)
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/v3/pay/transactions/out-trade-no/{abandoned}/close"
        )))
        .respond_with(fake.answer(204, ""))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;

    let now = chrono::Utc::now();
    let reconcile = |at| {
        anjia::payment::wechat_pay::reconcile::reconcile(
            &app.state.db,
            &app.state.settings,
            app.state.wechat_pay.as_deref(),
            at,
            100,
        )
    };
    assert_eq!(
        reconcile(now + chrono::Duration::minutes(2)).await.unwrap(),
        2
    );
    let base = &base;
    let token = p.resident.access.as_str();
    let bill_status = |id: String| async move {
        let (_, b) = status_and_json(
            app.get(&format!("{base}/fee-bills/{id}"), Some(token))
                .await,
        )
        .await;
        b
    };
    assert_eq!(bill_status(lost_bill.clone()).await["status"], "paid");
    // Past the payment window the other is closed there and here; the bill
    // is still owed and can be paid again.
    assert_eq!(
        reconcile(now + chrono::Duration::minutes(20))
            .await
            .unwrap(),
        1
    );
    let owed = bill_status(abandoned_bill.clone()).await;
    assert_eq!(owed["status"], "unpaid");
    assert_eq!(owed["payments"][0]["status"], "closed");
    assert_eq!(
        reconcile(now + chrono::Duration::minutes(40))
            .await
            .unwrap(),
        0
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}
