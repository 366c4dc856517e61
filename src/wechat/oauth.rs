//! Web OAuth for H5 pages opened from the menu, and JS-SDK signatures.
//!
//! `GET /wechat/oauth/authorize?redirect=…` sends the browser to WeChat with
//! a signed, expiring `state`; WeChat returns to `/wechat/oauth/callback`,
//! which exchanges the code, finds or creates the user and sends the browser
//! back to the page with anjia's tokens in the URL fragment (never sent to a
//! server, never in logs). Only pages on `wechat.oauth_redirect_allowlist`
//! are accepted, compared as parsed URLs (no open redirect).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use entity::TokenFamilyId;
use hmac::{Hmac, Mac};
use rand::RngCore;
use reqwest::Url;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::client::{App, WechatClient};
use super::error::WechatError;
use super::identity::{self, WechatLogin};
use super::views::{JssdkConfig, Scope};
use crate::auth::jwt::TokenIssuer;
use crate::auth::service::issue_pair;
use crate::config::{Settings, WechatSettings};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::pii::PiiCipher;

/// How long the browser has to come back from WeChat (and keeps the
/// nonce cookie that binds the sign-in to it).
pub const STATE_TTL_SECS: i64 = 600;
/// Sign-ins (code exchanges) per client IP per minute.
const SIGN_INS_PER_MINUTE: u32 = 30;

/// Counts a WeChat sign-in attempt from `client_ip`, refusing beyond the
/// limit (each one spends WeChat API quota).
pub async fn throttle<C: ConnectionTrait>(db: &C, client_ip: &str) -> ApiResult<()> {
    let key = format!("wechat-sign-in:ip:{client_ip}");
    let window = std::time::Duration::from_secs(60);
    match crate::rate_limit::hit(db, &key, SIGN_INS_PER_MINUTE, window).await? {
        Some(retry_after) => Err(ApiError::rate_limited(retry_after)),
        None => Ok(()),
    }
}

/// Parses `target` and checks it against the allowlist.
pub fn allowed_page(settings: &WechatSettings, target: &str) -> ApiResult<Url> {
    let refuse = || {
        ApiError::new(
            ErrorCode::RedirectNotAllowed,
            "this page is not on wechat.oauth_redirect_allowlist",
        )
    };
    let url = Url::parse(target.trim()).map_err(|_| refuse())?;
    let ok = settings
        .oauth_redirect_allowlist
        .iter()
        .any(|e| e.allows(&url));
    if ok { Ok(url) } else { Err(refuse()) }
}

/// The state's MAC key, derived from `auth.jwt_secret`.
fn state_key(jwt_secret: &SecretString) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"anjia wechat oauth state\0");
    h.update(jwt_secret.expose_secret().as_bytes());
    h.finalize().to_vec()
}

fn state_mac(
    jwt_secret: &SecretString,
    exp: i64,
    scope: char,
    nonce: &str,
    redirect: &str,
) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&state_key(jwt_secret)) {
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
fn sign_state(jwt_secret: &SecretString, scope: Scope, redirect: &str) -> (String, String) {
    let exp = Utc::now().timestamp() + STATE_TTL_SECS;
    let mut raw = [0u8; 6];
    rand::rng().fill_bytes(&mut raw);
    let nonce = hex::encode(raw);
    let letter = scope.letter();
    let mac = state_mac(jwt_secret, exp, letter, &nonce, redirect);
    (format!("{exp}{letter}{nonce}{mac}"), nonce)
}

fn check_state(
    jwt_secret: &SecretString,
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
    let expected = state_mac(jwt_secret, exp, letter, nonce, redirect);
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

/// The scope's letter in the signed state, and its name at WeChat.
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

fn callback_url(public_base_url: &str, redirect: &str) -> String {
    let mut url = format!(
        "{}/wechat/oauth/callback",
        public_base_url.trim_end_matches('/')
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

/// Where a sign-in sends the browser, and the nonce its cookie must carry
/// back (binding the sign-in to this browser: no login CSRF).
#[derive(Debug)]
pub struct Authorization {
    /// WeChat's authorize page, with the signed `state`.
    pub location: String,
    pub nonce: String,
    /// Whether the browser reaches anjia over HTTPS (the cookie is `Secure`).
    pub secure: bool,
}

/// Starts WeChat sign-in for the allowlisted page `redirect`.
pub fn authorize(
    settings: &Settings,
    wechat: &WechatClient,
    redirect: &str,
    scope: Option<Scope>,
) -> ApiResult<Authorization> {
    let page = allowed_page(&settings.wechat, redirect)?;
    if wechat.sandbox(App::Service) {
        return Err(WechatError::Sandbox.into());
    }
    let scope = scope.unwrap_or_default();
    let redirect = page.to_string();
    let (signed, nonce) = sign_state(&settings.auth.jwt_secret, scope, &redirect);
    let public_base_url = &settings.server.public_base_url;
    let location = format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope={}&state={signed}#wechat_redirect",
        settings.wechat.open_base.trim_end_matches('/'),
        urlencode(&settings.wechat.app_id),
        urlencode(&callback_url(public_base_url, &redirect)),
        scope.wechat(),
    );
    Ok(Authorization {
        location,
        nonce,
        secure: public_base_url.starts_with("https://"),
    })
}

/// What WeChat sends the browser back with, and what the browser carries.
#[derive(Debug, Clone, Copy)]
pub struct OauthReturn<'a> {
    pub redirect: &'a str,
    pub state: &'a str,
    /// Absent when the person declined.
    pub code: Option<&'a str>,
    /// The nonce cookie set when the sign-in started.
    pub nonce: Option<&'a str>,
    pub client_ip: &'a str,
}

/// WeChat's return: checks the page, the state and the browser, exchanges
/// the code, signs the person in and answers the page to send the browser
/// back to, with `#access_token=…&refresh_token=…&expires_in=…&user_id=…`
/// (or `#error=access_denied` when the person declined).
pub async fn finish(
    db: &DatabaseConnection,
    settings: &Settings,
    wechat: &WechatClient,
    pii: &PiiCipher,
    tokens: &TokenIssuer,
    back: OauthReturn<'_>,
) -> ApiResult<Url> {
    let page = allowed_page(&settings.wechat, back.redirect)?;
    let scope = check_state(
        &settings.auth.jwt_secret,
        back.state,
        page.as_str(),
        back.nonce,
    )?;
    throttle(db, back.client_ip).await?;
    let with_fragment = |fragment: String| {
        let mut url = page.clone();
        url.set_fragment(Some(&fragment));
        url
    };
    let Some(code) = back.code.filter(|c| !c.is_empty()) else {
        return Ok(with_fragment("error=access_denied".to_owned()));
    };
    let answer = wechat
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
        let profile = wechat
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
        db,
        pii,
        &WechatLogin {
            app_id: settings.wechat.app_id.clone(),
            openid,
            unionid,
            session_key: None,
            nickname,
        },
    )
    .await?;
    let pair = issue_pair(db, tokens, user.id, TokenFamilyId::new()).await?;
    Ok(with_fragment(format!(
        "access_token={}&token_type=Bearer&expires_in={}&refresh_token={}&refresh_expires_in={}&user_id={}",
        pair.access_token,
        pair.expires_in,
        pair.refresh_token,
        pair.refresh_expires_in,
        pair.user_id
    )))
}

/// A JS-SDK signature for the allowlisted page `url` (its fragment ignored).
pub async fn jssdk_config(
    db: &DatabaseConnection,
    settings: &WechatSettings,
    wechat: &WechatClient,
    url: &str,
) -> ApiResult<JssdkConfig> {
    let mut page = allowed_page(settings, url)?;
    page.set_fragment(None);
    let ticket = wechat.jsapi_ticket(db).await?;
    let timestamp = Utc::now().timestamp();
    let mut raw = [0u8; 12];
    rand::rng().fill_bytes(&mut raw);
    let nonce_str = URL_SAFE_NO_PAD.encode(raw).replace(['-', '_'], "x");
    let signature = jssdk_signature(&ticket, &nonce_str, timestamp, page.as_str());
    Ok(JssdkConfig {
        app_id: settings.app_id.clone(),
        timestamp,
        nonce_str,
        signature,
    })
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
