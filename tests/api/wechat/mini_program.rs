//! The mini-program's sign-in and phone binding.

use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use super::mount_token;
use crate::support::fakes::wechat::{MP_APP_ID, wechat_app};
use crate::support::{assert_error, status_and_json};

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
