//! Mini-program sign-in (`wx.login` → code2session) and phone binding
//! (`getPhoneNumber` → the verified number).

use entity::{TokenFamilyId, UserId};
use reqwest::Method;
use sea_orm::DatabaseConnection;
use serde_json::json;

use super::client::{App, WechatClient};
use super::error::WechatError;
use super::identity::{self, Bound, WechatLogin};
use super::oauth::throttle;
use crate::auth::jwt::TokenIssuer;
use crate::auth::principal::PrincipalCache;
use crate::auth::service::issue_pair;
use crate::auth::views::TokenPair;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::pii::{PhoneNumber, PiiCipher};

/// Signs a mini-program user in with a `wx.login` code (throttled per
/// client address like every WeChat sign-in).
pub async fn login(
    db: &DatabaseConnection,
    wechat: &WechatClient,
    pii: &PiiCipher,
    tokens: &TokenIssuer,
    code: &str,
    client_ip: &str,
) -> ApiResult<TokenPair> {
    throttle(db, client_ip).await?;
    let answer = wechat
        .get_with_secret(
            App::Mini,
            "/sns/jscode2session",
            &[("js_code", code), ("grant_type", "authorization_code")],
        )
        .await
        .map_err(|e| match e.errcode() {
            // 40029 invalid code, 40163 code used: the client's problem.
            Some(40029 | 40163 | 40226) => ApiError::new(
                ErrorCode::InvalidCredentials,
                "this wx.login code is invalid or used; call wx.login again",
            ),
            _ => e.into(),
        })?;
    let text = |k: &str| answer.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let openid = text("openid").ok_or_else(|| WechatError::Decode("no openid".into()))?;
    let user = identity::sign_in(
        db,
        pii,
        &WechatLogin {
            app_id: wechat.app_id(App::Mini).to_owned(),
            openid,
            unionid: text("unionid"),
            session_key: text("session_key"),
            nickname: None,
        },
    )
    .await?;
    issue_pair(db, tokens, user.id, TokenFamilyId::new()).await
}

/// Binds the phone number WeChat verified (from a `getPhoneNumber` code) to
/// the caller; new tokens come with it when the caller joined another
/// account (see [`identity::bind_phone`]).
pub async fn bind_phone(
    db: &DatabaseConnection,
    wechat: &WechatClient,
    pii: &PiiCipher,
    tokens: &TokenIssuer,
    principals: &PrincipalCache,
    caller: UserId,
    code: &str,
) -> ApiResult<(Bound, Option<TokenPair>)> {
    let answer = wechat
        .call(
            db,
            App::Mini,
            Method::POST,
            "/wxa/business/getuserphonenumber",
            &[],
            Some(&json!({ "code": code })),
        )
        .await
        .map_err(|e| match e.errcode() {
            Some(40029) => ApiError::new(
                ErrorCode::InvalidCredentials,
                "this phone code is invalid or used",
            ),
            _ => e.into(),
        })?;
    let info = answer.get("phone_info").cloned().unwrap_or_default();
    let country = info
        .get("countryCode")
        .and_then(|v| v.as_str())
        .unwrap_or("86");
    let number = info
        .get("purePhoneNumber")
        .and_then(|v| v.as_str())
        .ok_or_else(|| WechatError::Decode("no purePhoneNumber".into()))?;
    if country != "86" {
        return Err(ApiError::new(
            ErrorCode::ValidationFailed,
            "only mainland China mobile numbers are supported",
        ));
    }
    let phone = PhoneNumber::parse(number).map_err(|e| {
        ApiError::new(
            ErrorCode::ValidationFailed,
            format!("the phone number from WeChat: {e}"),
        )
    })?;
    let bound = identity::bind_phone(db, pii, principals, caller, &phone).await?;
    let tokens = match bound.merged {
        true => Some(issue_pair(db, tokens, bound.user_id, TokenFamilyId::new()).await?),
        false => None,
    };
    Ok((bound, tokens))
}
