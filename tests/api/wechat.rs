//! The WeChat protocol layer over HTTP, against a fake WeChat on loopback.

use std::time::Duration;

use anjia::wechat::crypto::{MsgCrypt, sha1_sorted};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::support::fakes::wechat::{AES_KEY, APP_ID, MP_APP_ID, TOKEN, configure, wechat_app};
use crate::support::outbox::wait_for_outbox;
use crate::support::{TestApp, assert_error, spawn_app, spawn_app_with, status_and_json};

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

#[tokio::test]
async fn url_verification_echoes_echostr_only_with_a_valid_recent_signature() {
    let app = wechat_app().await;
    let ts = now();
    let ok = app
        .get(
            &format!(
                "/wechat/callback?{}&echostr=4375120948345356249",
                signed(&ts, "x")
            ),
            None,
        )
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "4375120948345356249");

    let forged = format!(
        "signature={}&timestamp={ts}&nonce=x&echostr=1",
        "0".repeat(40)
    );
    assert_error(
        app.get(&format!("/wechat/callback?{forged}"), None).await,
        403,
        "wechat_signature_invalid",
    )
    .await;
    let stale = (chrono::Utc::now().timestamp() - 301).to_string();
    let res = app
        .get(
            &format!("/wechat/callback?{}&echostr=1", signed(&stale, "x")),
            None,
        )
        .await;
    assert_error(res, 403, "wechat_signature_invalid").await;
}

#[tokio::test]
async fn a_help_keyword_gets_a_text_reply_addressed_back_to_the_sender() {
    let app = wechat_app().await;
    let res = post_plain(&app, &text_msg("o_alice", "帮助", 1001)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let reply = anjia::wechat::xml::parse(res.text().await.unwrap().as_bytes()).unwrap();
    assert_eq!(reply.get("ToUserName"), Some("o_alice"));
    assert_eq!(reply.get("FromUserName"), Some("gh_test"));
    assert_eq!(reply.get("MsgType"), Some("text"));
    assert!(reply.get("Content").unwrap().contains("取货码"));
}

#[tokio::test]
async fn safe_mode_messages_are_decrypted_and_answered_encrypted() {
    let app = safe_app().await;
    let (status, reply) = post_safe(&app, &text_msg("o_bob", "我的订单", 1002)).await;
    assert_eq!(status, 200);
    let fields = anjia::wechat::xml::parse(reply.as_bytes()).unwrap();
    assert_eq!(fields.get("ToUserName"), Some("o_bob"));
    assert!(
        fields.get("Content").unwrap().contains("认证"),
        "an unverified person is asked to verify first"
    );

    // A menu CLICK in safe mode too.
    let (_, reply) = post_safe(&app, &event("o_bob", "CLICK", "pickup_code", 1700000000)).await;
    assert!(reply.contains("认证"));
}

#[tokio::test]
async fn a_safe_mode_message_with_a_forged_msg_signature_is_refused() {
    let app = safe_app().await;
    // With a key configured, an unencrypted body (whose signature does not
    // cover it) is refused, with no effect.
    let res = post_plain(&app, &event("o_plain", "subscribe", "", 5)).await;
    assert_error(res, 403, "wechat_signature_invalid").await;
    let crypt = MsgCrypt::new(AES_KEY, APP_ID).unwrap();
    let encrypt = crypt.encrypt(&event("o_evil", "subscribe", "", 1));
    let ts = now();
    let res = app
        .client
        .post(app.url(&format!(
            "/wechat/callback?{}&encrypt_type=aes&msg_signature={}",
            signed(&ts, "n"),
            "1".repeat(40)
        )))
        .body(format!(
            "<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ))
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "wechat_signature_invalid").await;
    assert!(followers(&app).await.is_empty(), "nothing was processed");
}

#[tokio::test]
async fn every_message_and_event_type_is_acknowledged() {
    let app = wechat_app().await;
    let t = now();
    let bodies = [
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>image</MsgType><PicUrl>http://x/p.jpg</PicUrl><MediaId>m</MediaId><MsgId>2001</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><MsgId>2002</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>video</MsgType><MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>2003</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>shortvideo</MsgType><MediaId>m</MediaId><ThumbMediaId>t</ThumbMediaId><MsgId>2004</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>location</MsgType><Location_X>31.2</Location_X><Location_Y>121.4</Location_Y><Scale>15</Scale><Label>上海</Label><MsgId>2005</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>link</MsgType><Title>t</Title><Description>d</Description><Url>http://x</Url><MsgId>2006</MsgId></xml>"
        ),
        format!(
            "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>miniprogrampage</MsgType><MsgId>2007</MsgId></xml>"
        ),
        event("o1", "VIEW", "https://h5.example.com/app/", 1),
        event("o1", "CLICK", "unknown_key", 2),
        event("o1", "LOCATION", "", 3),
        event("o1", "TEMPLATESENDJOBFINISH", "", 4),
        event("o1", "subscribe_msg_popup_event", "", 5),
        event("o1", "something_new", "", 6),
        event("o1", "unsubscribe", "", 7),
    ];
    for body in bodies {
        let res = post_plain(&app, &body).await;
        assert_eq!(res.status(), 200, "{body}");
        assert_eq!(res.text().await.unwrap(), "success", "{body}");
    }
    // A voice message whose recognition is a keyword is answered.
    let voice = format!(
        "<xml><FromUserName>o1</FromUserName><CreateTime>{t}</CreateTime><MsgType>voice</MsgType><MediaId>m</MediaId><Recognition>帮助</Recognition><MsgId>2008</MsgId></xml>"
    );
    assert!(
        post_plain(&app, &voice)
            .await
            .text()
            .await
            .unwrap()
            .contains("<Content>")
    );
}

#[tokio::test]
async fn subscribing_greets_records_the_inviter_and_unsubscribing_is_recorded() {
    let app = wechat_app().await;
    let inviter = app.resident().await;
    let res = post_plain(
        &app,
        &event(
            "o_new",
            "subscribe",
            &format!("qrscene_inv:{}", inviter.user_id),
            100,
        ),
    )
    .await;
    let text = res.text().await.unwrap();
    assert!(text.contains("欢迎"), "{text}");
    assert_eq!(
        followers(&app).await,
        vec![("o_new".to_owned(), true, Some(inviter.user_id))]
    );

    post_plain(&app, &event("o_new", "unsubscribe", "", 101)).await;
    assert_eq!(
        followers(&app).await,
        vec![("o_new".to_owned(), false, Some(inviter.user_id))]
    );
    // Coming back through someone else's code keeps the first inviter.
    let other = app.resident().await;
    post_plain(
        &app,
        &event(
            "o_new",
            "subscribe",
            &format!("qrscene_inv:{}", other.user_id),
            102,
        ),
    )
    .await;
    assert_eq!(
        followers(&app).await,
        vec![("o_new".to_owned(), true, Some(inviter.user_id))]
    );
}

#[tokio::test]
async fn retried_callbacks_are_handled_once_and_get_the_first_answer() {
    let app = wechat_app().await;
    let first = post_plain(&app, &text_msg("o_dup", "帮助", 3001))
        .await
        .text()
        .await
        .unwrap();
    let again = post_plain(&app, &text_msg("o_dup", "帮助", 3001))
        .await
        .text()
        .await
        .unwrap();
    let content = |xml: &str| {
        anjia::wechat::xml::parse(xml.as_bytes())
            .unwrap()
            .text("Content")
    };
    assert_eq!(
        content(&first),
        content(&again),
        "a retry gets the same answer"
    );

    let inviter = app.resident().await;
    let sub = event(
        "o_twice",
        "subscribe",
        &format!("qrscene_inv:{}", inviter.user_id),
        555,
    );
    let greeting = post_plain(&app, &sub).await.text().await.unwrap();
    // Meanwhile they unsubscribed; a late retry of the subscribe must not resurrect it.
    post_plain(&app, &event("o_twice", "unsubscribe", "", 556)).await;
    let retried = post_plain(&app, &sub).await.text().await.unwrap();
    assert_eq!(
        retried, greeting,
        "the retry gets the stored answer, not a second run"
    );
    assert_eq!(
        followers(&app).await,
        vec![("o_twice".to_owned(), false, Some(inviter.user_id))]
    );
}

#[tokio::test]
async fn forged_stale_doctype_oversized_and_malformed_callbacks_are_refused_cleanly() {
    let app = wechat_app().await;
    let sub = event("o_forged", "subscribe", "", 1);
    let forged = app
        .client
        .post(app.url(&format!(
            "/wechat/callback?signature={}&timestamp={}&nonce=n",
            "a".repeat(40),
            now()
        )))
        .body(sub.clone())
        .send()
        .await
        .unwrap();
    assert_error(forged, 403, "wechat_signature_invalid").await;
    let stale = (chrono::Utc::now().timestamp() - 3600).to_string();
    let res = app
        .client
        .post(app.url(&format!("/wechat/callback?{}", signed(&stale, "n"))))
        .body(sub)
        .send()
        .await
        .unwrap();
    assert_error(res, 403, "wechat_signature_invalid").await;
    assert!(followers(&app).await.is_empty(), "no side effect");

    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><FromUserName>&e;</FromUserName><MsgType>text</MsgType></xml>";
    assert_error(post_plain(&app, xxe).await, 400, "wechat_bad_message").await;
    let bomb = "<xml><FromUserName>&lol;</FromUserName><MsgType>text</MsgType></xml>";
    assert_error(post_plain(&app, bomb).await, 400, "wechat_bad_message").await;
    assert_error(
        post_plain(&app, "<xml><FromUserName>o</FromUserName>").await,
        400,
        "wechat_bad_message",
    )
    .await;
    assert_error(
        post_plain(&app, "<xml><MsgType>text</MsgType></xml>").await,
        400,
        "wechat_bad_message",
    )
    .await;
    let huge = format!("<xml><Content>{}</Content></xml>", "x".repeat(70 * 1024));
    assert_error(post_plain(&app, &huge).await, 413, "payload_too_large").await;
}

#[tokio::test]
async fn work_beyond_the_reply_budget_answers_success_and_follows_up_through_the_outbox() {
    let app = spawn_app_with(|s| {
        configure(s);
        s.wechat.reply_budget_ms = 0;
    })
    .await;
    mount_token(&app, "TOKEN_A", 1).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/message/custom/send"))
        .and(query_param("access_token", "TOKEN_A"))
        .and(body_partial_json(
            json!({"touser": "o_slow", "msgtype": "text"}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": 0, "errmsg": "ok"})),
        )
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let res = post_plain(&app, &text_msg("o_slow", "帮助", 4001)).await;
    assert_eq!(res.text().await.unwrap(), "success");
    wait_for_outbox(&app, "sent", 1).await;
}

/// A started OAuth sign-in: WeChat's authorize URL, the `state` in it, the
/// `Set-Cookie` header and the cookie to send back.
struct OauthStart {
    location: String,
    state: String,
    set_cookie: String,
    cookie: String,
}

fn query_value(url: &str, key: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .unwrap()
        .1
        .into_owned()
}

async fn start_oauth(app: &TestApp, query: &str) -> OauthStart {
    let res = app
        .get(&format!("/wechat/oauth/authorize?{query}"), None)
        .await;
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    OauthStart {
        state: query_value(&location, "state"),
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        set_cookie,
        location,
    }
}

/// The access token an OAuth callback put in the page's fragment.
fn fragment_access_token(location: &str) -> String {
    let url = reqwest::Url::parse(location).unwrap();
    url.fragment()
        .unwrap()
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn web_oauth_sends_the_browser_to_wechat_and_back_with_tokens() {
    let app = wechat_app().await;
    let OauthStart {
        location,
        state,
        set_cookie,
        cookie,
    } = start_oauth(&app, "redirect=https%3A%2F%2Fh5.example.com%2Fapp%2Forders").await;
    assert!(
        location.starts_with(&format!(
            "{}/connect/oauth2/authorize?appid={APP_ID}",
            app.fake_wechat.uri()
        )),
        "{location}"
    );
    assert!(location.contains("scope=snsapi_base") && location.ends_with("#wechat_redirect"));
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(state.len() <= 128 && state.chars().all(|c| c.is_ascii_alphanumeric()));
    let back = query_value(&location, "redirect_uri");
    assert!(back.starts_with("http://127.0.0.1:8080/wechat/oauth/callback?redirect="));

    Mock::given(method("GET"))
        .and(path("/sns/oauth2/access_token"))
        .and(query_param("code", "CODE1"))
        .and(query_param("appid", APP_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "user-token", "expires_in": 7200, "refresh_token": "r", "openid": "o_web", "scope": "snsapi_base", "unionid": "u_person"
        })))
        .mount(&app.fake_wechat)
        .await;
    let redirect = "https%3A%2F%2Fh5.example.com%2Fapp%2Forders";
    // Another browser (without the cookie) cannot finish this sign-in.
    let res = app
        .get(
            &format!("/wechat/oauth/callback?redirect={redirect}&state={state}&code=CODE1"),
            None,
        )
        .await;
    assert_error(res, 400, "oauth_state_invalid").await;
    let with_cookie = |path: String| {
        app.client
            .get(app.url(&path))
            .header("cookie", cookie.clone())
            .send()
    };
    let res = with_cookie(format!(
        "/wechat/oauth/callback?redirect={redirect}&state={state}&code=CODE1"
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://h5.example.com/app/orders#access_token="),
        "{location}"
    );
    let access = fragment_access_token(&location);
    let (status, me) = status_and_json(app.get("/api/v1/me", Some(&access)).await).await;
    assert_eq!(status, 200, "{me}");

    // The same person signing in on the mini-program (same unionid) is the same user.
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"openid": "o_mini", "session_key": "c2Vzc2lvbg==", "unionid": "u_person"}),
        ))
        .mount(&app.fake_wechat)
        .await;
    let (status, pair) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "wx-code"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["user_id"], me["id"]);

    // The state is bound to the redirect and cannot be altered.
    let other = "https%3A%2F%2Fh5.example.com%2Fapp%2Fother";
    let res = with_cookie(format!(
        "/wechat/oauth/callback?redirect={other}&state={state}&code=CODE1"
    ))
    .await
    .unwrap();
    assert_error(res, 400, "oauth_state_invalid").await;
    let res = with_cookie(format!(
        "/wechat/oauth/callback?redirect={redirect}&state=1{state}&code=CODE1"
    ))
    .await
    .unwrap();
    assert_error(res, 400, "oauth_state_invalid").await;
    // Declining comes back with an error, no tokens.
    let res = with_cookie(format!(
        "/wechat/oauth/callback?redirect={redirect}&state={state}"
    ))
    .await
    .unwrap();
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("#error=access_denied")
    );
}

#[tokio::test]
async fn the_userinfo_scope_names_the_new_user_after_their_wechat_profile() {
    let app = wechat_app().await;
    let OauthStart {
        location,
        state,
        cookie,
        ..
    } = start_oauth(
        &app,
        "redirect=https%3A%2F%2Fh5.example.com%2Fapp%2F&scope=userinfo",
    )
    .await;
    assert!(location.contains("scope=snsapi_userinfo"), "{location}");
    Mock::given(method("GET"))
        .and(path("/sns/oauth2/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "USER_AT", "expires_in": 7200, "openid": "o_profile", "scope": "snsapi_userinfo"
        })))
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("GET"))
        .and(path("/sns/userinfo"))
        .and(query_param("access_token", "USER_AT"))
        .and(query_param("openid", "o_profile"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "openid": "o_profile", "nickname": "小区张阿姨", "headimgurl": "http://x/h.png"
        })))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    let res = app
        .client
        .get(app.url(&format!(
            "/wechat/oauth/callback?redirect=https%3A%2F%2Fh5.example.com%2Fapp%2F&state={state}&code=C"
        )))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let access = fragment_access_token(&location);
    let (_, me) = status_and_json(app.get("/api/v1/me", Some(&access)).await).await;
    assert_eq!(me["display_name"], "小区张阿姨");
}

#[tokio::test]
async fn oauth_and_jssdk_refuse_pages_off_the_allowlist() {
    let app = wechat_app().await;
    for target in [
        "https%3A%2F%2Fevil.example.com%2Fapp%2F",
        "https%3A%2F%2Fh5.example.com.evil.cn%2Fapp%2F",
        "https%3A%2F%2Fh5.example.com%40evil.cn%2Fapp%2F",
        "javascript%3Aalert(1)",
        "%2F%2Fevil.example.com",
    ] {
        let res = app
            .get(&format!("/wechat/oauth/authorize?redirect={target}"), None)
            .await;
        assert_error(res, 400, "redirect_not_allowed").await;
        let res = app
            .get(
                &format!("/wechat/oauth/callback?redirect={target}&state=x&code=y"),
                None,
            )
            .await;
        assert_error(res, 400, "redirect_not_allowed").await;
        let res = app
            .get(&format!("/api/v1/wechat/jssdk-config?url={target}"), None)
            .await;
        assert_error(res, 400, "redirect_not_allowed").await;
    }
}

#[tokio::test]
async fn jssdk_config_signs_the_page_with_the_shared_ticket() {
    let app = wechat_app().await;
    mount_token(&app, "TOKEN_J", 1).await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/ticket/getticket"))
        .and(query_param("access_token", "TOKEN_J"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"errcode": 0, "errmsg": "ok", "ticket": "TICKET", "expires_in": 7200}),
        ))
        .expect(1)
        .mount(&app.fake_wechat)
        .await;
    for _ in 0..2 {
        let (status, cfg) = status_and_json(
            app.get("/api/v1/wechat/jssdk-config?url=https%3A%2F%2Fh5.example.com%2Fapp%2Fx%3Fa%3D1%23frag", None).await,
        )
        .await;
        assert_eq!(status, 200, "{cfg}");
        let expected = anjia::wechat::oauth::jssdk_signature(
            "TICKET",
            cfg["nonce_str"].as_str().unwrap(),
            cfg["timestamp"].as_i64().unwrap(),
            "https://h5.example.com/app/x?a=1",
        );
        assert_eq!(cfg["signature"], expected);
        assert_eq!(cfg["app_id"], APP_ID);
    }
}

#[tokio::test]
async fn sandbox_mode_refuses_wechat_sign_in_and_points_to_the_development_login() {
    let app = spawn_app().await;
    let res = app
        .get(
            "/wechat/oauth/authorize?redirect=https%3A%2F%2Fh5.example.com%2Fapp%2F",
            None,
        )
        .await;
    // Sandbox has no allowlist either; both refusals are clean 4xx.
    assert!(res.status().is_client_error());
    assert_error(
        app.post("/api/v1/auth/miniprogram/login", None, json!({"code": "c"}))
            .await,
        409,
        "wechat_sandbox",
    )
    .await;
    assert!(
        app.fake_wechat
            .received_requests()
            .await
            .unwrap()
            .is_empty(),
        "no calls out"
    );
}

#[tokio::test]
async fn mini_program_login_and_phone_binding() {
    let app = wechat_app().await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("js_code", "good"))
        .and(query_param("appid", MP_APP_ID))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"openid": "o_mp1", "session_key": "a2V5"})),
        )
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("js_code", "used"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40163, "errmsg": "code been used"})),
        )
        .mount(&app.fake_wechat)
        .await;
    let (status, pair) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "good"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    let access = pair["access_token"].as_str().unwrap().to_owned();
    let (_, again) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "good"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        again["user_id"], pair["user_id"],
        "the same openid is the same user"
    );
    assert_error(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "used"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.post("/api/v1/auth/miniprogram/login", None, json!({"code": ""}))
            .await,
        422,
        "validation_failed",
    )
    .await;

    // The session key is stored encrypted.
    use sea_orm::EntityTrait;
    let identity = entity::wechat_identity::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let stored = identity[0].session_key_enc.clone().unwrap();
    assert!(!stored.contains("a2V5") && stored.starts_with("v1:"));

    mount_token(&app, "MP_TOKEN", 1).await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .and(query_param("access_token", "MP_TOKEN"))
        .and(body_partial_json(json!({"code": "phone-code"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": {"phoneNumber": "13812345678", "purePhoneNumber": "13812345678", "countryCode": "86"}
        })))
        .mount(&app.fake_wechat)
        .await;
    let (status, bound) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/phone",
            Some(&access),
            json!({"code": "phone-code"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{bound}");
    assert_eq!(bound["phone"], "138****5678");
    assert_eq!(bound["merged"], false);
    let (_, me) = status_and_json(app.get("/api/v1/me", Some(&access)).await).await;
    assert_eq!(me["phone"], "138****5678");
}

#[tokio::test]
async fn a_verified_phone_joins_the_account_that_already_has_it() {
    let app = wechat_app().await;
    // A resident's account exists with this number (made on another channel).
    let staff = app
        .dev_login(json!({"phone": "13900001111", "display_name": "王阿姨"}))
        .await;
    // So does a manager's: proving a phone never takes over a privileged account.
    let c = app
        .community(&format!("合并小区{}", Uuid::now_v7().simple()))
        .await;
    app.dev_login(json!({"phone": "13900002222", "display_name": "王经理", "staff_roles": [{"community_id": c, "role": "manager"}]}))
        .await;
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"openid": "o_wang", "session_key": "a2V5"})),
        )
        .mount(&app.fake_wechat)
        .await;
    mount_token(&app, "MP_TOKEN", 1).await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .and(body_partial_json(json!({"code": "manager-phone"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "phone_info": {"purePhoneNumber": "13900002222", "countryCode": "86"}
        })))
        .mount(&app.fake_wechat)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errcode": 0, "phone_info": {"purePhoneNumber": "13900001111", "countryCode": "86"}
        })))
        .mount(&app.fake_wechat)
        .await;
    let (_, pair) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "c1"}),
        )
        .await,
    )
    .await;
    let temp = pair["access_token"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/api/v1/auth/miniprogram/phone",
            Some(&temp),
            json!({"code": "manager-phone"}),
        )
        .await;
    assert_error(res, 409, "phone_taken").await;
    let (status, bound) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/phone",
            Some(&temp),
            json!({"code": "p"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{bound}");
    assert_eq!(bound["merged"], true);
    assert_eq!(bound["user_id"], staff.user_id.to_string());
    let joined = bound["tokens"]["access_token"].as_str().unwrap();
    let (_, me) = status_and_json(app.get("/api/v1/me", Some(joined)).await).await;
    assert_eq!(me["id"], staff.user_id.to_string());
    // The next mini-program sign-in lands on the joined account.
    let (_, next) = status_and_json(
        app.post(
            "/api/v1/auth/miniprogram/login",
            None,
            json!({"code": "c2"}),
        )
        .await,
    )
    .await;
    assert_eq!(next["user_id"], staff.user_id.to_string());
}

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

#[allow(dead_code)]
fn _value(_: Value) {}
