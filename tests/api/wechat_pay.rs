//! WeChat Pay API v3 against a fake on loopback that signs with a test RSA
//! key and encrypts with AES-256-GCM exactly like the real one: prepay with
//! the order's own amount, the payment notification, and every forgery
//! refused with nothing changed. (The keys are generated per test run.)

use std::sync::Arc;

use anjia::config::PaymentProvider;
use anjia::payment::wechat_pay::crypto::{self, MerchantKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use entity::{OrderStatus, RefundStatus, journal_entry, order, refund};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::group_buys::{World, world};
use crate::helpers::{Session, TestApp, TestDb, spawn_app_on, status_and_json};
use crate::orders::shop;

pub const MCH_ID: &str = "1900000001";
pub const APP_ID: &str = "wx_test_pay_app";
pub const API_V3_KEY: &str = "0123456789abcdef0123456789abcdef";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

/// `Wechatpay-Timestamp`, `-Nonce`, `-Signature` and `-Serial`.
pub type Headers = [(String, String); 4];

/// The fake WeChat Pay's keys and the app configured against it.
pub struct Fake {
    pub app: TestApp,
    pub keys: Arc<Keys>,
}

/// Test-only keys, generated per run: the merchant's (anjia signs with it)
/// and WeChat Pay's platform key (the fake signs with it).
pub struct Keys {
    platform: MerchantKey,
    merchant_public: RsaPublicKey,
    pub merchant_path: String,
    pub platform_path: String,
    _dir: tempfile::TempDir,
}

pub fn keys() -> Arc<Keys> {
    let mut rng = rand_core_06::OsRng;
    let platform = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let merchant = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let merchant_path = dir.path().join("apiclient_key.pem");
    std::fs::write(
        &merchant_path,
        merchant.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
    )
    .unwrap();
    let platform_path = dir.path().join("pub_key.pem");
    std::fs::write(
        &platform_path,
        platform
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap(),
    )
    .unwrap();
    Arc::new(Keys {
        platform: MerchantKey::from_pkcs8_der("", "", platform.to_pkcs8_der().unwrap().as_bytes())
            .unwrap(),
        merchant_public: merchant.to_public_key(),
        merchant_path: merchant_path.display().to_string(),
        platform_path: platform_path.display().to_string(),
        _dir: dir,
    })
}

/// An instance configured for WeChat Pay on `db`, its API faked by the
/// instance's own loopback server; `worker` runs the outbox worker.
pub async fn instance(keys: &Arc<Keys>, db: Arc<TestDb>, worker: bool) -> Fake {
    let app = spawn_app_on(db, |s| {
        s.outbox.worker = worker;
        s.payment.provider = PaymentProvider::WechatPay;
        let p = &mut s.wechat_pay;
        p.mch_id = MCH_ID.into();
        p.app_id = APP_ID.into();
        p.api_v3_key = API_V3_KEY.to_owned().into();
        p.merchant_serial_no = "3775B6A45ACD588826D15E583A95F5DD00000000".into();
        p.merchant_private_key_path = keys.merchant_path.clone();
        p.platform_public_key_id = PUBLIC_KEY_ID.into();
        p.platform_public_key_path = keys.platform_path.clone();
        p.api_base = s.wechat.api_base.clone();
        p.notify_url = "https://anjia.example/wechat/pay/notify".into();
        p.refund_notify_url = "https://anjia.example/wechat/pay/refund-notify".into();
        p.transfer_scene_id = "1005".into();
        p.transfer_notify_url = "https://anjia.example/wechat/pay/transfer-notify".into();
    })
    .await;
    Fake {
        app,
        keys: keys.clone(),
    }
}

pub async fn fake_pay() -> Fake {
    instance(&keys(), Arc::new(TestDb::new().await), true).await
}

impl Fake {
    /// WeChat's headers for `body`: timestamp, nonce, signature, serial.
    pub fn signed(&self, body: &str, timestamp: i64) -> Headers {
        let nonce = format!("nonce{timestamp}");
        [
            ("Wechatpay-Timestamp".into(), timestamp.to_string()),
            ("Wechatpay-Nonce".into(), nonce.clone()),
            (
                "Wechatpay-Signature".into(),
                self.keys
                    .platform
                    .sign(&format!("{timestamp}\n{nonce}\n{body}\n"))
                    .unwrap(),
            ),
            ("Wechatpay-Serial".into(), PUBLIC_KEY_ID.into()),
        ]
    }

    /// A payment notification as WeChat Pay sends it: the transaction
    /// encrypted with the APIv3 key inside a JSON envelope.
    pub fn notification(&self, transaction: &Value) -> String {
        let key = crypto::api_v3_key(API_V3_KEY).unwrap();
        let ciphertext = crypto::encrypt(
            &key,
            "fGFkZWRub25j",
            "transaction",
            transaction.to_string().as_bytes(),
        )
        .unwrap();
        json!({
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-23T10:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext, "associated_data": "transaction", "nonce": "fGFkZWRub25j"
            }
        })
        .to_string()
    }

    pub async fn send(&self, body: &str, headers: &Headers) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .post(format!("{}/wechat/pay/notify", self.app.address))
            .header("Content-Type", "application/json")
            .body(body.to_owned());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        let res = request.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// An answer from the fake WeChat Pay, signed like the real one.
    pub fn answer(&self, status: u16, body: &str) -> ResponseTemplate {
        let mut answer = ResponseTemplate::new(status);
        if !body.is_empty() {
            answer = answer.set_body_raw(body.to_owned(), "application/json");
        }
        for (k, v) in self.signed(body, chrono::Utc::now().timestamp()) {
            answer = answer.insert_header(k.as_str(), v.as_str());
        }
        answer
    }

    fn merchant_signed(&self, message: &str, signature: &str) -> bool {
        let key = VerifyingKey::<Sha256>::new(self.keys.merchant_public.clone());
        let raw = B64.decode(signature).unwrap();
        key.verify(
            message.as_bytes(),
            &Signature::try_from(raw.as_slice()).unwrap(),
        )
        .is_ok()
    }
}

pub fn transaction(order_no: &str, total: i64) -> Value {
    json!({
        "appid": APP_ID, "mchid": MCH_ID, "out_trade_no": order_no,
        "transaction_id": "4200000000202611230000000001", "trade_type": "JSAPI",
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "success_time": "2026-11-23T10:00:05+08:00",
        "payer": { "openid": "o-test-openid" },
        "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" }
    })
}

/// An order of two boxes (136.00) by a resident signed in to the mini-program.
/// A pending order, with the shop that sells it.
pub struct Pending {
    pub w: World,
    pub resident: Session,
    pub id: String,
    pub order: order::Model,
    pub seller: Session,
    pub shop: String,
    pub product: String,
}

pub async fn pending_order(fake: &Fake) -> Pending {
    let app = &fake.app;
    let w = world(app, 1).await;
    let (seller, shop, product) = shop(app, &w).await;
    let r = w.residents[0].clone();
    entity::wechat_identity::ActiveModel {
        id: Set(entity::WechatIdentityId::new()),
        user_id: Set(entity::UserId::from_uuid(r.user_id)),
        app_id: Set(APP_ID.into()),
        openid: Set(format!("o-{}", r.user_id.simple())),
        unionid: Set(None),
        session_key_enc: Set(None),
        created_at: Set(chrono::Utc::now()),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let (status, o) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders", w.community),
            Some(&r.access),
            json!({ "merchant_id": shop, "lines": [{ "product_id": product, "quantity": 2 }],
                    "receiving": { "fulfilment": "pickup", "pickup_point_id": w.point } }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{o}");
    let id = o["id"].as_str().unwrap().to_owned();
    let model = order::Entity::find_by_id(id.parse::<entity::OrderId>().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    Pending {
        w,
        resident: r,
        id,
        order: model,
        seller,
        shop,
        product,
    }
}

async fn entries(app: &TestApp) -> usize {
    journal_entry::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .len()
}

async fn status_of(app: &TestApp, o: &order::Model) -> OrderStatus {
    order::Entity::find_by_id(o.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

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
    let (status, paying) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders/{id}/pay", w.community),
            Some(&r.access),
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{paying}");
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
    let (_, o) = status_and_json(
        app.post(
            &format!("/api/v1/communities/{}/orders", w.community),
            Some(&r.access),
            json!({ "merchant_id": shop, "lines": [{ "product_id": product, "quantity": 1 }],
                    "receiving": { "fulfilment": "pickup", "pickup_point_id": w.point } }),
        )
        .await,
    )
    .await;
    let res = app
        .post(
            &format!(
                "/api/v1/communities/{}/orders/{}/pay",
                w.community,
                o["id"].as_str().unwrap()
            ),
            Some(&r.access),
            json!({}),
        )
        .await;
    crate::helpers::assert_error(res, 409, "payment_unavailable").await;
    assert!(
        app.fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

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
    let (status, body) = status_and_json(
        first
            .app
            .post(
                &format!("/api/v1/merchants/{}/orders/{}/status", p.shop, p.id),
                Some(&p.seller.access),
                json!({ "status": "rejected", "reason": "今日缺货" }),
            )
            .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
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
        let res = app
            .post(
                &format!("/api/v1/communities/{}/orders/{}/pay", p.w.community, p.id),
                Some(&p.resident.access),
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 200);
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
        let res = app
            .post(
                &format!("/api/v1/merchants/{}/orders/{}/status", p.shop, p.id),
                Some(&p.seller.access),
                json!({ "status": step }),
            )
            .await;
        assert_eq!(res.status(), 200, "{step}");
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
    anjia::fees::issue(
        &app.db,
        entity::CommunityId::from_uuid(p.w.community),
        "2026-Q4",
        chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        "imported",
        entity::UserId::from_uuid(finance.user_id),
        vec![anjia::fees::NewBill {
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
        anjia::fees::issue(
            &app.db,
            entity::CommunityId::from_uuid(p.w.community),
            period,
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
            "imported",
            entity::UserId::from_uuid(finance.user_id),
            vec![anjia::fees::NewBill {
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
        let res = app
            .post(
                &format!("/api/v1/merchants/{}/orders/{}/status", p.shop, p.id),
                Some(&p.seller.access),
                json!({ "status": step }),
            )
            .await;
        assert_eq!(res.status(), 200, "{step}");
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
