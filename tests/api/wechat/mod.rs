//! The WeChat protocol layer over HTTP, against a fake WeChat on loopback.

mod callbacks;
mod calls;
mod mini_program;
mod oauth;

use anjia::wechat::crypto::{MsgCrypt, sha1_sorted};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::fakes::wechat::{AES_KEY, APP_ID, TOKEN, configure};
use crate::support::{TestApp, spawn_app_with};

/// Safe mode: the EncodingAESKey is configured.
async fn safe_app() -> TestApp {
    spawn_app_with(|s| {
        configure(s);
        s.wechat.encoding_aes_key = AES_KEY.to_owned().into();
    })
    .await
}

fn now() -> String {
    chrono::Utc::now().timestamp().to_string()
}

fn signed(ts: &str, nonce: &str) -> String {
    let sig = sha1_sorted(&[TOKEN, ts, nonce]);
    format!("signature={sig}&timestamp={ts}&nonce={nonce}&openid=o_sender")
}

async fn post_plain(app: &TestApp, xml: &str) -> reqwest::Response {
    let q = signed(&now(), "n1");
    app.client
        .post(app.url(&format!("/wechat/callback?{q}")))
        .header("content-type", "text/xml")
        .body(xml.to_owned())
        .send()
        .await
        .unwrap()
}

/// Posts `inner` in safe mode; returns the decrypted reply (or the plain body).
async fn post_safe(app: &TestApp, inner: &str) -> (u16, String) {
    let crypt = MsgCrypt::new(AES_KEY, APP_ID).unwrap();
    let encrypt = crypt.encrypt(inner);
    let (ts, nonce) = (now(), "n2".to_owned());
    let msg_sig = sha1_sorted(&[TOKEN, &ts, &nonce, &encrypt]);
    let body = format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    let res = app
        .client
        .post(app.url(&format!(
            "/wechat/callback?{}&encrypt_type=aes&msg_signature={msg_sig}",
            signed(&ts, &nonce)
        )))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    if !text.contains("<Encrypt>") {
        return (status, text);
    }
    let fields = anjia::wechat::xml::parse(text.as_bytes()).unwrap();
    let enc = fields.get("Encrypt").unwrap();
    let reply_ts = fields.get("TimeStamp").unwrap();
    let reply_nonce = fields.get("Nonce").unwrap();
    assert_eq!(
        fields.get("MsgSignature").unwrap(),
        sha1_sorted(&[TOKEN, reply_ts, reply_nonce, enc]),
        "the reply's signature verifies"
    );
    (status, crypt.decrypt(enc).unwrap())
}

fn text_msg(from: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>\
         <MsgId>{msg_id}</MsgId></xml>",
        now()
    )
}

fn event(from: &str, event: &str, key: &str, time: i64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName>\
         <CreateTime>{time}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>\
         <EventKey><![CDATA[{key}]]></EventKey></xml>"
    )
}

async fn followers(app: &TestApp) -> Vec<(String, bool, Option<Uuid>)> {
    use sea_orm::EntityTrait;
    entity::wechat_follower::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.openid, f.subscribed, f.invited_by.map(|u| u.as_uuid())))
        .collect()
}

/// Mounts WeChat's stable_token endpoint; `expect` how many calls.
async fn mount_token(app: &TestApp, token: &str, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": token, "expires_in": 7200})),
        )
        .expect(expect)
        .mount(&app.fake_wechat)
        .await;
}
