//! A fake WeChat Pay API v3 on loopback that signs with a test RSA key and
//! encrypts with AES-256-GCM exactly like the real one, and an app
//! configured against it. (The keys are generated per test run.)

use std::sync::Arc;

use anjia::config::PaymentProvider;
use anjia::payment::wechat_pay::crypto::{self, MerchantKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::ResponseTemplate;

use crate::support::{TestApp, TestDb, spawn_app_on};

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

    /// Whether `signature` is the merchant key's over `message` (what
    /// anjia sent WeChat Pay).
    pub fn merchant_signed(&self, message: &str, signature: &str) -> bool {
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
