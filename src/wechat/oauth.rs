//! Web OAuth for H5 pages opened from the menu, and JS-SDK signatures.
//!
//! `GET /wechat/oauth/authorize?redirect=…` sends the browser to WeChat with
//! a signed, expiring `state`; WeChat returns to `/wechat/oauth/callback`,
//! which exchanges the code, finds or creates the user and sends the browser
//! back to the page with anjia's tokens in the URL fragment (never sent to a
//! server, never in logs). Only pages on `wechat.oauth_redirect_allowlist`
//! are accepted, compared as parsed URLs (no open redirect).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use entity::TokenFamilyId;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::Url;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::client::App;
use super::error::WechatError;
use super::identity::{self, WechatLogin};
use crate::auth::service::issue_pair;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::state::AppState;

/// How long the browser has to come back from WeChat.
const STATE_TTL_SECS: i64 = 600;
/// Binds the sign-in to the browser that started it (no login CSRF): the
/// state's nonce must come back in this cookie.
const NONCE_COOKIE: &str = "anjia_oauth_nonce";
/// Sign-ins (code exchanges) per client IP per minute.
const SIGN_INS_PER_MINUTE: u32 = 30;

/// Counts a WeChat sign-in attempt from `req`'s client, refusing beyond the
/// limit (each one spends WeChat API quota).
pub async fn throttle(state: &AppState, req: &HttpRequest) -> ApiResult<()> {
    let ip = crate::kernel::http::client_ip(req, state.settings.server.trust_forwarded_for);
    let key = format!("wechat-sign-in:ip:{ip}");
    let window = std::time::Duration::from_secs(60);
    match crate::rate_limit::hit(&state.db, &key, SIGN_INS_PER_MINUTE, window).await? {
        Some(retry_after) => Err(ApiError::rate_limited(retry_after)),
        None => Ok(()),
    }
}

/// Parses `target` and checks it against the allowlist.
pub fn allowed_page(state: &AppState, target: &str) -> ApiResult<Url> {
    let refuse = || {
        ApiError::new(
            ErrorCode::RedirectNotAllowed,
            "this page is not on wechat.oauth_redirect_allowlist",
        )
    };
    let url = Url::parse(target.trim()).map_err(|_| refuse())?;
    let ok = state
        .settings
        .wechat
        .oauth_redirect_allowlist
        .iter()
        .any(|e| e.allows(&url));
    if ok { Ok(url) } else { Err(refuse()) }
}

fn state_key(state: &AppState) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"anjia wechat oauth state\0");
    h.update(state.settings.auth.jwt_secret.expose_secret().as_bytes());
    h.finalize().to_vec()
}

fn state_mac(state: &AppState, exp: i64, scope: char, nonce: &str, redirect: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&state_key(state)) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(format!("{exp}|{scope}|{nonce}|{redirect}").as_bytes());
    let full = hex::encode(mac.finalize().into_bytes());
    full[..40].to_owned()
}

/// `state`: expiry, scope letter, nonce and a MAC over them and the redirect
/// (WeChat allows 128 characters of `[A-Za-z0-9]`, so the redirect itself
/// travels in the callback URL and is bound by the MAC).
fn sign_state(state: &AppState, scope: Scope, redirect: &str) -> (String, String) {
    let exp = Utc::now().timestamp() + STATE_TTL_SECS;
    let mut raw = [0u8; 6];
    rand::rng().fill_bytes(&mut raw);
    let nonce = hex::encode(raw);
    let letter = scope.letter();
    let mac = state_mac(state, exp, letter, &nonce, redirect);
    (format!("{exp}{letter}{nonce}{mac}"), nonce)
}

fn check_state(
    state: &AppState,
    signed: &str,
    redirect: &str,
    cookie: Option<&str>,
) -> ApiResult<Scope> {
    let invalid = || {
        ApiError::new(
            ErrorCode::OauthStateInvalid,
            "the sign-in link is invalid or expired; start again",
        )
    };
    let digits = signed.bytes().take_while(u8::is_ascii_digit).count();
    let (exp, rest) = signed.split_at(digits);
    let exp: i64 = exp.parse().map_err(|_| invalid())?;
    let mut chars = rest.chars();
    let letter = chars.next().ok_or_else(invalid)?;
    let rest = chars.as_str();
    if rest.len() != 12 + 40 || !rest.is_ascii() {
        return Err(invalid());
    }
    let (nonce, mac) = rest.split_at(12);
    let expected = state_mac(state, exp, letter, nonce, redirect);
    if !super::crypto::same_signature(&expected, mac) || exp < Utc::now().timestamp() {
        return Err(invalid());
    }
    if cookie != Some(nonce) {
        return Err(ApiError::new(
            ErrorCode::OauthStateInvalid,
            "this sign-in was started in another browser; start again here",
        ));
    }
    Scope::from_letter(letter).ok_or_else(invalid)
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `snsapi_base`: silent, the openid only (default).
    #[default]
    Base,
    /// `snsapi_userinfo`: asks the person, gives their nickname.
    Userinfo,
}

impl Scope {
    fn letter(self) -> char {
        match self {
            Scope::Base => 'b',
            Scope::Userinfo => 'u',
        }
    }
    fn from_letter(c: char) -> Option<Self> {
        match c {
            'b' => Some(Scope::Base),
            'u' => Some(Scope::Userinfo),
            _ => None,
        }
    }
    fn wechat(self) -> &'static str {
        match self {
            Scope::Base => "snsapi_base",
            Scope::Userinfo => "snsapi_userinfo",
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeQuery {
    /// The H5 page to return to (must be allowlisted).
    pub redirect: String,
    pub scope: Option<Scope>,
}

fn callback_url(state: &AppState, redirect: &str) -> String {
    let mut url = format!(
        "{}/wechat/oauth/callback",
        state.settings.server.public_base_url.trim_end_matches('/')
    );
    url.push_str("?redirect=");
    url.push_str(&urlencode(redirect));
    url
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Starts WeChat sign-in for an H5 page: redirects to WeChat's authorize page.
#[utoipa::path(get, path = "/wechat/oauth/authorize", tag = "wechat",
    params(AuthorizeQuery),
    responses((status = 302, description = "To WeChat's authorize page"),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`: use the development login", body = ErrorBody)))]
pub async fn authorize(
    state: web::Data<AppState>,
    query: web::Query<AuthorizeQuery>,
) -> ApiResult<HttpResponse> {
    let page = allowed_page(&state, &query.redirect)?;
    if state.wechat.sandbox(App::Service) {
        return Err(WechatError::Sandbox.into());
    }
    let scope = query.scope.unwrap_or_default();
    let redirect = page.to_string();
    let (signed, nonce) = sign_state(&state, scope, &redirect);
    let secure = state
        .settings
        .server
        .public_base_url
        .starts_with("https://");
    let cookie = actix_web::cookie::Cookie::build(NONCE_COOKIE, nonce)
        .path("/wechat/oauth")
        .http_only(true)
        .secure(secure)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(STATE_TTL_SECS))
        .finish();
    let location = format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope={}&state={signed}#wechat_redirect",
        state.settings.wechat.open_base.trim_end_matches('/'),
        urlencode(&state.settings.wechat.app_id),
        urlencode(&callback_url(&state, &redirect)),
        scope.wechat(),
    );
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OauthCallbackQuery {
    pub redirect: String,
    pub state: String,
    /// Absent when the person declined.
    pub code: Option<String>,
}

/// WeChat's return: exchanges the code and sends the browser back to the
/// page with `#access_token=…&refresh_token=…&expires_in=…&user_id=…`.
#[utoipa::path(get, path = "/wechat/oauth/callback", tag = "wechat",
    params(OauthCallbackQuery),
    responses((status = 302, description = "Back to the page, tokens in the fragment"),
        (status = 400, description = "`oauth_state_invalid` or `redirect_not_allowed`", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account is disabled", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ins from this address; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<OauthCallbackQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let page = allowed_page(&state, &query.redirect)?;
    let cookie = req.cookie(NONCE_COOKIE);
    let nonce = cookie.as_ref().map(|c| c.value());
    let scope = check_state(&state, &query.state, page.as_str(), nonce)?;
    throttle(&state, &req).await?;
    let back = |fragment: String| {
        let mut url = page.clone();
        url.set_fragment(Some(&fragment));
        HttpResponse::Found()
            .insert_header((header::LOCATION, url.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .finish()
    };
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Ok(back("error=access_denied".to_owned()));
    };
    let answer = state
        .wechat
        .get_with_secret(
            App::Service,
            "/sns/oauth2/access_token",
            &[("code", code), ("grant_type", "authorization_code")],
        )
        .await?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
    let openid = text(&answer, "openid").ok_or_else(|| WechatError::Decode("no openid".into()))?;
    let mut unionid = text(&answer, "unionid");
    let mut nickname = None;
    if scope == Scope::Userinfo
        && let Some(user_token) = text(&answer, "access_token")
    {
        let profile = state
            .wechat
            .get(
                "/sns/userinfo",
                &[
                    ("access_token", &user_token),
                    ("openid", &openid),
                    ("lang", "zh_CN"),
                ],
            )
            .await?;
        nickname = text(&profile, "nickname");
        unionid = unionid.or_else(|| text(&profile, "unionid"));
    }
    let user = identity::sign_in(
        &state,
        &WechatLogin {
            app_id: state.settings.wechat.app_id.clone(),
            openid,
            unionid,
            session_key: None,
            nickname,
        },
    )
    .await?;
    let pair = issue_pair(&state.db, &state, user.id, TokenFamilyId::new()).await?;
    Ok(back(format!(
        "access_token={}&token_type=Bearer&expires_in={}&refresh_token={}&refresh_expires_in={}&user_id={}",
        pair.access_token,
        pair.expires_in,
        pair.refresh_token,
        pair.refresh_expires_in,
        pair.user_id
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JssdkQuery {
    /// The page's full URL (anything after `#` is ignored); must be allowlisted.
    pub url: String,
}

/// What `wx.config` needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JssdkConfig {
    pub app_id: String,
    pub timestamp: i64,
    pub nonce_str: String,
    pub signature: String,
}

/// A JS-SDK signature for an allowlisted page.
#[utoipa::path(get, path = "/api/v1/wechat/jssdk-config", tag = "wechat",
    params(JssdkQuery),
    responses((status = 200, body = JssdkConfig),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat did not give a JS-SDK ticket", body = ErrorBody)))]
pub async fn jssdk_config(
    state: web::Data<AppState>,
    query: web::Query<JssdkQuery>,
) -> ApiResult<web::Json<JssdkConfig>> {
    let mut page = allowed_page(&state, &query.url)?;
    page.set_fragment(None);
    let ticket = state.wechat.jsapi_ticket(&state.db).await?;
    let timestamp = Utc::now().timestamp();
    let mut raw = [0u8; 12];
    rand::rng().fill_bytes(&mut raw);
    let nonce_str = URL_SAFE_NO_PAD.encode(raw).replace(['-', '_'], "x");
    let signature = jssdk_signature(&ticket, &nonce_str, timestamp, page.as_str());
    Ok(web::Json(JssdkConfig {
        app_id: state.settings.wechat.app_id.clone(),
        timestamp,
        nonce_str,
        signature,
    }))
}

/// `sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")`.
pub fn jssdk_signature(ticket: &str, nonce: &str, timestamp: i64, url: &str) -> String {
    use sha1::{Digest as _, Sha1};
    let plain = format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={url}");
    hex::encode(Sha1::digest(plain.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_jssdk_signature_is_reproduced() {
        // WeChat's JS-SDK documentation example (附录1).
        assert_eq!(
            jssdk_signature(
                "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
                "Wm3WZYTPz0wzccnW",
                1414587457,
                "http://mp.weixin.qq.com?params=value",
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
    }
}
