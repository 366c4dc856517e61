//! The WeChat sections: the service account (`[wechat]`) and the
//! mini-program (`[miniprogram]`).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::redact;
use crate::kernel::menu::Menu;
use crate::kernel::redirect::AllowEntry;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    pub app_id: String,
    #[serde(serialize_with = "redact")]
    pub app_secret: SecretString,
    #[serde(serialize_with = "redact")]
    pub token: SecretString,
    #[serde(serialize_with = "redact")]
    pub encoding_aes_key: SecretString,
    pub api_base: String,
    pub open_base: String,
    pub max_clock_skew_secs: u64,
    pub oauth_redirect_allowlist: Vec<AllowEntry>,
    /// The H5 pages' base URL, for links in replies and messages.
    pub h5_base_url: String,
    /// A callback's work gets this long before anjia answers `success` and
    /// sends the real reply later as a customer-service message (WeChat
    /// waits 5 s).
    pub reply_budget_ms: u64,
    /// How long a callback's MsgId (or event key) is remembered against retries.
    pub dedupe_ttl_secs: u64,
    /// Refresh the shared access_token / jsapi_ticket this long before expiry.
    pub token_refresh_margin_secs: u64,
    /// The service account's custom menu, pushed by `anjia wechat menu sync`.
    pub menu: Menu,
}

impl WechatSettings {
    /// Sandbox mode: no app id configured, so nothing is sent to WeChat.
    pub fn sandbox(&self) -> bool {
        self.app_id.trim().is_empty()
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MiniprogramSettings {
    pub app_id: String,
    #[serde(serialize_with = "redact")]
    pub app_secret: SecretString,
}

impl MiniprogramSettings {
    /// Sandbox mode: no mini-program app id, so nothing is sent to WeChat.
    pub fn sandbox(&self) -> bool {
        self.app_id.trim().is_empty()
    }
}
