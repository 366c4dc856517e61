//! WeChat Pay payment notifications handled per second, against a bare
//! actix-web hello route in the same run (PostgreSQL).
//!
//!     ANJIA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench pay_notify
//!
//! The bench creates a database of its own beside the one the URL names
//! (dropped at the end), seeds the demo community and BENCH_MESSAGES
//! (default 20,000) orders waiting for payment, and signs one genuine
//! notification per order with a test platform key (generated per run).
//! Every request pays a different order through the whole path: signature
//! over the raw body, AES-256-GCM decryption, merchant/app/amount checks,
//! then the payment transaction (the order's move and event, the ledger
//! entry and lines, the resident's message in the outbox). Afterwards every
//! paid order must have exactly one payment in the ledger (`ledger verify`).
//!
//! Environment: BENCH_SECS (default 3), BENCH_ROUNDS (default 3),
//! BENCH_CONNECTIONS (default 32), BENCH_POOL (database pool, default 16).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use anjia::config::PaymentProvider;
use anjia::payment::wechat_pay::crypto::{self, MerchantKey};
use anjia::startup::Application;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use support::{BenchDatabase, Target, env_or, hello_server, run_rounds};

// Test-only values.
const MCH_ID: &str = "1900000109";
const APP_ID: &str = "wxbenchpay000001";
const API_V3_KEY: &str = "benchbenchbenchbenchbenchbench32";
const KEY_ID: &str = "PUB_KEY_ID_BENCH";

fn main() {
    let Ok(admin_url) = std::env::var("ANJIA_BENCH_DATABASE_URL") else {
        eprintln!(
            "set ANJIA_BENCH_DATABASE_URL=postgres://… (notifications are measured on PostgreSQL)"
        );
        return;
    };
    let secs: u64 = env_or("BENCH_SECS", 3);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let connections: usize = env_or("BENCH_CONNECTIONS", 32);
    let count: u32 = env_or("BENCH_MESSAGES", 20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let bench_db = BenchDatabase::create(&admin_url).await;
        let keys = tempfile::tempdir().unwrap();
        let mut rng = rand_core_06::OsRng;
        let platform = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let merchant = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let merchant_path = keys.path().join("merchant.pem");
        std::fs::write(&merchant_path, merchant.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes()).unwrap();
        let platform_path = keys.path().join("platform.pem");
        std::fs::write(&platform_path, platform.to_public_key().to_public_key_pem(LineEnding::LF).unwrap()).unwrap();

        let mut settings = support::dev_settings();
        settings.database.url = bench_db.url.clone();
        settings.database.max_connections = env_or("BENCH_POOL", 16);
        settings.server.port = 0;
        settings.server.workers = 0;
        settings.jobs.enabled = false;
        settings.outbox.worker = false;
        settings.log.level = "warn".into();
        settings.payment.provider = PaymentProvider::WechatPay;
        let p = &mut settings.wechat_pay;
        p.mch_id = MCH_ID.into();
        p.app_id = APP_ID.into();
        p.api_v3_key = API_V3_KEY.to_owned().into();
        p.merchant_serial_no = "BENCHSERIAL".into();
        p.merchant_private_key_path = merchant_path.display().to_string();
        p.platform_public_key_id = KEY_ID.into();
        p.platform_public_key_path = platform_path.display().to_string();
        p.api_base = "http://127.0.0.1:9".into();
        p.notify_url = "https://bench.example/wechat/pay/notify".into();
        p.refund_notify_url = "https://bench.example/wechat/pay/refund-notify".into();

        let db = anjia::kernel::db::connect(&settings.database).await.unwrap();
        anjia::kernel::db::migrate_up(&db).await.unwrap();
        let pii = anjia::pii::PiiCipher::from_settings(&settings.pii).unwrap();
        anjia::demo::seed(&db, &pii).await.unwrap();
        let one = |sql: &'static str| {
            let db = db.clone();
            async move {
                db.query_one_raw(Statement::from_string(db.get_database_backend(), sql.to_owned()))
                    .await
                    .unwrap()
                    .unwrap()
                    .try_get::<uuid::Uuid>("", "id")
                    .unwrap()
            }
        };
        let (community, shop, user, household) = (
            one("SELECT id FROM communities LIMIT 1").await,
            one("SELECT id FROM merchants LIMIT 1").await,
            one("SELECT id FROM users LIMIT 1").await,
            one("SELECT id FROM households LIMIT 1").await,
        );
        db.execute_unprepared(&format!(
            "INSERT INTO orders (id, order_no, community_id, merchant_id, group_buy_id, user_id, household_id, status, amount, payment_method, paid_at, payment_deadline, fulfilment, pickup_point_id, pickup_slot_id, pickup_reminded_at, slot_reminded_at, address, address_remark, delivery_time, courier_id, processed_at, processed_by, status_reason, intro, client_ip, user_agent, client_kind, idempotency_key, request_hash, fulfilled_at, confirmed_at, prepaid_at, pay_checked_at, pay_closed_at, created_at, updated_at) \
             SELECT md5('o' || g)::uuid, 'N' || lpad(g::text, 19, '0'), '{community}', '{shop}', NULL, '{user}', '{household}', 'pending_payment', 1000 + g % 500, NULL, NULL, now() + interval '1 day', 'delivery', NULL, NULL, NULL, NULL, '1号楼 101', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '127.0.0.1', 'bench', 'other', NULL, NULL, NULL, NULL, now(), NULL, NULL, now(), now() \
             FROM generate_series(1, {count}) g; ANALYZE"
        ))
        .await
        .unwrap();

        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app = Application::build(settings).await.unwrap();
                port_tx.send(app.port()).unwrap();
                app.run().await.unwrap();
            });
        });
        let anjia_port = port_rx.recv().unwrap();
        let hello_port = hello_server();

        // One genuine notification per order, signed like WeChat Pay.
        let signer = MerchantKey::from_pkcs8_der("", "", platform.to_pkcs8_der().unwrap().as_bytes()).unwrap();
        let key = crypto::api_v3_key(API_V3_KEY).unwrap();
        let ts = chrono::Utc::now().timestamp();
        let started = std::time::Instant::now();
        let requests: Vec<Vec<u8>> = (1..=count)
            .map(|g| {
                let tx = json!({
                    "appid": APP_ID, "mchid": MCH_ID, "out_trade_no": format!("N{g:019}"),
                    "transaction_id": format!("42000{g:023}"), "trade_type": "JSAPI", "trade_state": "SUCCESS",
                    "payer": { "openid": "o_bench" },
                    "amount": { "total": 1000 + g % 500, "payer_total": 1000 + g % 500, "currency": "CNY" }
                });
                let nonce = format!("{g:012}");
                let body = json!({
                    "id": format!("EV-{g}"), "create_time": "2026-11-23T10:00:00+08:00",
                    "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                    "resource": { "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                        "ciphertext": crypto::encrypt(&key, &nonce, "transaction", tx.to_string().as_bytes()).unwrap(),
                        "associated_data": "transaction", "nonce": nonce }
                })
                .to_string();
                let signature = signer.sign(&format!("{ts}\n{nonce}\n{body}\n")).unwrap();
                let mut request = format!(
                    "POST /wechat/pay/notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                     Wechatpay-Timestamp: {ts}\r\nWechatpay-Nonce: {nonce}\r\nWechatpay-Signature: {signature}\r\n\
                     Wechatpay-Serial: {KEY_ID}\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                request.extend_from_slice(body.as_bytes());
                request
            })
            .collect();
        println!(
            "WeChat Pay notify benchmark: {count} signed notifications prepared in {:.1} s; {connections} connections, {rounds} rounds x {secs}s per target, PostgreSQL",
            started.elapsed().as_secs_f64()
        );
        let notify = Target::pool("payment notification → order paid", anjia_port, requests);
        let targets = vec![Target::get("hello (bare actix-web)", hello_port, "/", None), notify];
        let results = run_rounds(&targets, connections, Duration::from_secs(secs), rounds).await;
        support::report(&results, 0);
        let used = targets[1].used();
        let paid: i64 = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        let report = anjia::ledger::verify(&db).await.unwrap();
        assert!(report.ok(), "{:#?}", report.problems);
        println!(
            "\n{used} notifications sent of {count} (wrapped: {}); {paid} orders paid, {} ledger entries; ledger verify OK",
            used > count as usize,
            report.entries
        );
        db.close().await.unwrap();
        bench_db.drop().await;
    });
}
