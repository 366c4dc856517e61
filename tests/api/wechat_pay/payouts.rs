//! A merchant's payout made by WeChat Pay's transfer to the wallet: paid
//! when the transfer succeeds, the money returned when it fails.

use std::sync::Arc;

use anjia::payment::wechat_pay::crypto;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::support::fakes::wechat_pay::{API_V3_KEY, APP_ID, MCH_ID, instance, keys};
use crate::support::fixtures::pending_order;
use crate::support::{TestDb, status_and_json};

#[tokio::test]
async fn a_payout_by_wechat_transfer_is_paid_when_it_succeeds_and_returned_when_it_fails() {
    let fake = instance(&keys(), Arc::new(TestDb::new().await), false).await;
    let app = &fake.app;
    let p = pending_order(&fake).await;
    // The shop's owner signed in to the mini-program; 100.00 settled to the shop.
    entity::wechat_identity::ActiveModel {
        id: Set(entity::WechatIdentityId::new()),
        user_id: Set(entity::UserId::from_uuid(p.seller.user_id)),
        app_id: Set(APP_ID.into()),
        openid: Set("o-shop-owner".into()),
        unionid: Set(None),
        session_key_enc: Set(None),
        created_at: Set(chrono::Utc::now()),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let merchant: entity::MerchantId = p.shop.parse().unwrap();
    let here = entity::CommunityId::from_uuid(p.w.community);
    anjia::ledger::post(
        &app.db,
        // Test funds, straight from clearing: no escrow left, so no settled
        // orders need stand behind them (`ledger verify` checks that).
        anjia::ledger::Entry::new(entity::JournalKind::Settlement, "test:transfer-funds")
            .community(entity::CommunityId::from_uuid(p.w.community))
            .debit(
                anjia::ledger::Account::wechat_clearing(),
                entity::Fen::new(10_000).unwrap(),
            )
            .credit(
                anjia::ledger::Account::merchant_payable(merchant, here),
                entity::Fen::new(10_000).unwrap(),
            ),
    )
    .await
    .unwrap();
    let finance = app.staff(p.w.community, "finance").await;
    let (shop, seller) = (p.shop.as_str(), p.seller.access.as_str());
    let community = p.w.community;
    let ask = |amount: i64| async move {
        let (status, w) = status_and_json(
            app.post(
                &format!("/api/v1/merchants/{shop}/withdrawals"),
                Some(seller),
                json!({ "amount": amount, "community_id": community }),
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "{w}");
        w["id"].as_str().unwrap().to_owned()
    };
    let decide = |id: String, body: Value| {
        let finance = finance.access.clone();
        async move {
            status_and_json(
                app.post(
                    &format!("/api/v1/communities/{community}/withdrawals/{id}/status"),
                    Some(&finance),
                    body,
                )
                .await,
            )
            .await
        }
    };

    // Approved: the transfer is queued, then sent; the owner must confirm.
    let first = ask(5_000).await;
    let (status, approved) = decide(first.clone(), json!({ "status": "approved" })).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["transfer_state"], "queued");
    let out_bill_no = first.replace('-', "");
    let answer = json!({ "out_bill_no": out_bill_no, "transfer_bill_no": "1330000071100999991182020050700019480001",
        "create_time": "2026-11-23T15:00:00+08:00", "state": "WAIT_USER_CONFIRM", "package_info": "affffddafdfafddffda==" })
    .to_string();
    Mock::given(method("POST"))
        .and(path("/v3/fund-app/mch-transfer/transfer-bills"))
        .respond_with(fake.answer(200, &answer))
        .up_to_n_times(1)
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
    let sent: Value =
        serde_json::from_slice(&app.fake_wechat.received_requests().await.unwrap()[0].body)
            .unwrap();
    assert_eq!(
        (
            &sent["openid"],
            &sent["transfer_amount"],
            &sent["out_bill_no"],
            &sent["transfer_scene_id"]
        ),
        (
            &json!("o-shop-owner"),
            &json!(5_000),
            &json!(out_bill_no),
            &json!("1005")
        )
    );
    let (_, listed) = status_and_json(
        app.get(
            &format!("/api/v1/merchants/{}/withdrawals", p.shop),
            Some(&p.seller.access),
        )
        .await,
    )
    .await;
    assert_eq!(listed[0]["transfer_state"], "WAIT_USER_CONFIRM");
    assert_eq!(listed[0]["transfer_package"], "affffddafdfafddffda==");
    let (status, _) = decide(
        first.clone(),
        json!({ "status": "paid", "payout_reference": "BANK-1" }),
    )
    .await;
    assert_eq!(status, 409, "the transfer settles it, not finance");

    // WeChat Pay reports the transfer done: paid out once, however often told.
    let key = crypto::api_v3_key(API_V3_KEY).unwrap();
    let result = json!({ "mch_id": MCH_ID, "out_bill_no": out_bill_no,
        "transfer_bill_no": "1330000071100999991182020050700019480001", "transfer_amount": 5_000,
        "state": "SUCCESS", "openid": "o-shop-owner", "create_time": "2026-11-23T15:00:00+08:00",
        "update_time": "2026-11-23T15:01:00+08:00" });
    let body = json!({
        "id": "EV-transfer-1", "create_time": "2026-11-23T15:01:00+08:00",
        "resource_type": "encrypt-resource", "event_type": "MCHTRANSFER.BILL.FINISHED", "summary": "商家转账单据终态通知",
        "resource": { "original_type": "mch_payment", "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": crypto::encrypt(&key, "0123456789ab", "mch_payment", result.to_string().as_bytes()).unwrap(),
            "associated_data": "mch_payment", "nonce": "0123456789ab" }
    })
    .to_string();
    let headers = fake.signed(&body, chrono::Utc::now().timestamp());
    for _ in 0..2 {
        let res = app
            .client
            .post(format!("{}/wechat/pay/transfer-notify", app.address))
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
    let paid =
        entity::withdrawal::Entity::find_by_id(first.parse::<entity::WithdrawalId>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(paid.status, entity::WithdrawalStatus::Paid);
    assert_eq!(
        paid.payout_reference.as_deref(),
        Some("1330000071100999991182020050700019480001")
    );
    let balance = |account| async move { anjia::ledger::balance(&app.db, account).await.unwrap() };
    assert_eq!(
        balance(anjia::ledger::Account::payouts_in_flight(merchant, here)).await,
        0
    );
    assert_eq!(
        balance(anjia::ledger::Account::merchant_payable(merchant, here)).await,
        5_000
    );

    // A second payout fails at WeChat Pay (found by reconciliation): the
    // amount is the merchant's again.
    let second = ask(2_000).await;
    let (status, _) = decide(second.clone(), json!({ "status": "approved" })).await;
    assert_eq!(status, 200);
    let second_bill = second.replace('-', "");
    Mock::given(method("POST"))
        .and(path("/v3/fund-app/mch-transfer/transfer-bills"))
        .respond_with(fake.answer(200, &json!({ "out_bill_no": second_bill, "transfer_bill_no": "1330000071100999991182020050700019480002", "state": "ACCEPTED" }).to_string()))
        .mount(&app.fake_wechat)
        .await;
    assert!(
        anjia::startup::outbox_worker(&app.state)
            .deliver_due()
            .await
            .unwrap()
            >= 1
    );
    Mock::given(method("GET"))
        .and(path(format!(
            "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{second_bill}"
        )))
        .respond_with(
            fake.answer(
                200,
                &json!({ "mch_id": MCH_ID, "out_bill_no": second_bill,
            "transfer_bill_no": "1330000071100999991182020050700019480002", "state": "FAIL",
            "fail_reason": "PAYEE_ACCOUNT_ABNORMAL" })
                .to_string(),
            ),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let later = chrono::Utc::now() + chrono::Duration::minutes(11);
    assert!(
        anjia::payment::wechat_pay::reconcile::reconcile(
            &app.state.db,
            &app.state.settings,
            app.state.wechat_pay.as_deref(),
            later,
            100
        )
        .await
        .unwrap()
            >= 1
    );
    let failed =
        entity::withdrawal::Entity::find_by_id(second.parse::<entity::WithdrawalId>().unwrap())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
    assert_eq!(failed.status, entity::WithdrawalStatus::Rejected);
    assert!(failed.reason.unwrap().contains("PAYEE_ACCOUNT_ABNORMAL"));
    assert_eq!(
        balance(anjia::ledger::Account::merchant_payable(merchant, here)).await,
        5_000
    );
    let report = anjia::ledger::verify(&app.db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
}
