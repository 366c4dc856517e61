//! What the WeChat endpoints take and answer: the callback's signed query,
//! the OAuth and JS-SDK queries, mini-program codes, QR codes and what a
//! menu sync did.

use chrono::{DateTime, Utc};
use entity::{QrCodeId, wechat_qr_code};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::views::TokenPair;
use crate::kernel::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    /// URL verification only.
    pub echostr: Option<String>,
    /// `aes` in safe and compatible mode.
    pub encrypt_type: Option<String>,
    /// Safe mode: the signature over the ciphertext too.
    pub msg_signature: Option<String>,
    /// The sender (WeChat adds it; the body is authoritative).
    pub openid: Option<String>,
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeQuery {
    /// The H5 page to return to (must be allowlisted).
    pub redirect: String,
    pub scope: Option<Scope>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OauthCallbackQuery {
    pub redirect: String,
    pub state: String,
    /// Absent when the person declined.
    pub code: Option<String>,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The one-time code from `wx.login` (or, for the phone, from the
    /// `getPhoneNumber` button).
    pub code: String,
}

impl CodeBody {
    /// The code, trimmed: printable ASCII of at most 256 characters.
    pub fn parse(&self) -> ApiResult<&str> {
        let code = self.code.trim();
        if code.is_empty() || code.len() > 256 || !code.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ApiError::invalid_field(
                "code",
                "a code from WeChat is required",
            ));
        }
        Ok(code)
    }
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

#[derive(Debug, Serialize, ToSchema)]
pub struct QrCode {
    pub id: QrCodeId,
    pub scene: String,
    pub permanent: bool,
    /// What the code encodes (WeChat's `url`).
    pub content: String,
    /// WeChat's own image of the code.
    pub wechat_image_url: String,
    /// An SVG image of the code served by anjia.
    pub image_url: String,
    pub expires_at: Option<DateTime<Utc>>,
}

impl QrCode {
    /// The code as the API shows it, its image served under `public_base_url`.
    pub fn new(public_base_url: &str, m: wechat_qr_code::Model) -> Self {
        Self {
            wechat_image_url: format!(
                "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket={}",
                m.ticket
                    .replace('+', "%2B")
                    .replace('/', "%2F")
                    .replace('=', "%3D")
            ),
            image_url: format!(
                "{}/api/v1/wechat/qr-codes/{}/image",
                public_base_url.trim_end_matches('/'),
                m.id
            ),
            id: m.id,
            scene: m.scene,
            permanent: m.permanent,
            content: m.url,
            expires_at: m.expires_at,
        }
    }
}

/// What a sync did.
#[derive(Debug, Serialize, ToSchema)]
pub struct MenuSynced {
    /// In sandbox mode nothing was sent; `menu` is what would have been.
    pub sandbox: bool,
    #[schema(value_type = Object)]
    pub menu: Value,
}
