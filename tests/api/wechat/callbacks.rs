//! The official account's callback: URL verification, messages and events
//! in plaintext and safe mode, retries answered once, forgeries and
//! malformed bodies refused, and slow work followed up through the outbox.

use anjia::wechat::crypto::MsgCrypt;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use super::{
    event, followers, mount_token, now, post_plain, post_safe, safe_app, signed, text_msg,
};
use crate::support::fakes::wechat::{AES_KEY, APP_ID, configure, wechat_app};
use crate::support::outbox::wait_for_outbox;
use crate::support::{assert_error, spawn_app_with};

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
