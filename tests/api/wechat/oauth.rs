//! Signing in on the web through WeChat's OAuth, and the JS-SDK
//! configuration, both only for pages on the allowlist.

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use super::mount_token;
use crate::support::fakes::wechat::{APP_ID, wechat_app};
use crate::support::{TestApp, assert_error, spawn_app, status_and_json};

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
