//! Mini-program sign-in (`wx.login` → code2session) and phone binding
//! (`getPhoneNumber` → the verified number).

use actix_web::web;
use entity::TokenFamilyId;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::client::App;
use super::error::WechatError;
use super::identity::{self, WechatLogin};
use crate::auth::Caller;
use crate::auth::service::{TokenPair, issue_pair};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::Json;
use crate::pii::PhoneNumber;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The one-time code from `wx.login` (or, for the phone, from the
    /// `getPhoneNumber` button).
    pub code: String,
}

fn code(body: &CodeBody) -> ApiResult<&str> {
    let code = body.code.trim();
    if code.is_empty() || code.len() > 256 || !code.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::invalid_field(
            "code",
            "a code from WeChat is required",
        ));
    }
    Ok(code)
}

/// Signs a mini-program user in with a `wx.login` code.
#[utoipa::path(post, path = "/api/v1/auth/miniprogram/login", tag = "auth",
    request_body = CodeBody,
    responses((status = 200, body = TokenPair),
        (status = 401, description = "`invalid_credentials`: the `wx.login` code is invalid or used; call `wx.login` again", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account is disabled", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`: use the development login", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ins from this address; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat refused the code", body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    body: Json<CodeBody>,
) -> ApiResult<web::Json<TokenPair>> {
    let code = code(&body.0)?;
    super::oauth::throttle(&state, &req).await?;
    let answer = state
        .wechat
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
        &state,
        &WechatLogin {
            app_id: state.settings.miniprogram.app_id.clone(),
            openid,
            unionid: text("unionid"),
            session_key: text("session_key"),
            nickname: None,
        },
    )
    .await?;
    let pair = issue_pair(&state.db, &state, user.id, TokenFamilyId::new()).await?;
    Ok(web::Json(pair))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneBound {
    /// The account the caller is now.
    pub user_id: entity::UserId,
    /// Masked.
    pub phone: String,
    /// The number already belonged to an account (imported, or the same
    /// person on the service account): this sign-in joined it.
    pub merged: bool,
    /// New tokens for the joined account, when `merged` (the old ones are revoked).
    pub tokens: Option<TokenPair>,
}

/// Binds the phone number WeChat verified for the caller.
#[utoipa::path(post, path = "/api/v1/auth/miniprogram/phone", tag = "auth",
    request_body = CodeBody,
    responses((status = 200, body = PhoneBound),
        (status = 409, description = "`phone_taken`: another account with its own history has this number; `wechat_sandbox`: the mini-program runs in sandbox mode here", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a mainland China mobile number", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat refused or failed the call", body = ErrorBody)))]
pub async fn bind_phone(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CodeBody>,
) -> ApiResult<web::Json<PhoneBound>> {
    let code = code(&body.0)?;
    let answer = state
        .wechat
        .call(
            &state.db,
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
    let bound = identity::bind_phone(&state, caller.user.id, &phone).await?;
    let tokens = match bound.merged {
        true => Some(issue_pair(&state.db, &state, bound.user_id, TokenFamilyId::new()).await?),
        false => None,
    };
    Ok(web::Json(PhoneBound {
        user_id: bound.user_id,
        phone: bound.phone_masked,
        merged: bound.merged,
        tokens,
    }))
}
