//! The payment sections: which provider takes residents' money, WeChat Pay's
//! merchant account and keys, and the order clock.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::redact;
use crate::kernel::local_time::{TimeOfDay, Zone};

/// Which payment provider takes residents' money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// Development: a resident "pays" with an API call that runs the same
    /// internal path as a verified payment notification. No money moves, so
    /// production refuses to take payments this way.
    Sandbox,
    /// WeChat Pay API v3 (`[wechat_pay]`).
    WechatPay,
}

/// WeChat Pay API v3: the merchant account, its keys and WeChat's keys.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WechatPaySettings {
    /// The merchant number (商户号).
    pub mch_id: String,
    /// The app (mini-program or service account) bound to the merchant.
    pub app_id: String,
    /// The APIv3 key (32 characters) that encrypts notifications.
    #[serde(serialize_with = "redact")]
    pub api_v3_key: SecretString,
    /// The serial number of the merchant's API certificate.
    pub merchant_serial_no: String,
    /// The merchant's private key (`apiclient_key.pem`, PKCS#8).
    pub merchant_private_key_path: String,
    /// Public-key mode: the key's id (`PUB_KEY_ID_…`) and its PEM file.
    pub platform_public_key_id: String,
    pub platform_public_key_path: String,
    /// Certificate mode: WeChat Pay platform certificates (PEM files).
    pub platform_certificate_paths: Vec<String>,
    pub api_base: String,
    /// Where WeChat Pay sends payment and refund results (public HTTPS URLs
    /// of `/wechat/pay/notify` and `/wechat/pay/refund-notify`).
    pub notify_url: String,
    pub refund_notify_url: String,
    /// Notifications and responses signed further than this from now are refused.
    pub max_clock_skew_secs: u64,
    /// Merchant transfer (商家转账) scene for merchants' payouts; empty: payouts
    /// are bank transfers recorded by finance.
    pub transfer_scene_id: String,
    /// Where WeChat Pay reports transfer results (`/wechat/pay/transfer-notify`).
    pub transfer_notify_url: String,
    /// The scene's report fields (`info_type`, `info_content`), as the scene
    /// requires them.
    pub transfer_report_infos: Vec<(String, String)>,
}

/// Payments and the order clock.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub provider: PaymentProvider,
    /// An unpaid order lets go of its stock after this many minutes.
    pub unpaid_timeout_mins: u32,
    /// A delivered order confirms itself after this many days.
    pub auto_confirm_days: u32,
    /// A resident may dispute an order for this many days after it was
    /// fulfilled (and until it settles).
    pub dispute_window_days: u32,
    /// A dispute the resident and merchant have not settled between them
    /// goes to customer service after this many days.
    pub dispute_escalation_days: u32,
    /// Orders confirmed before this local time (`HH:MM`) settle to their
    /// merchant the same day; later ones the next day.
    pub settlement_cutoff: TimeOfDay,
    /// The business day's time zone (cutoff and daily statements).
    pub settlement_timezone: Zone,
    /// Orders the settlement job settles per transaction (one ledger entry
    /// per merchant each).
    pub settlement_batch: u32,
}

impl PaymentSettings {
    /// The cutoff as a time of day.
    pub fn cutoff(&self) -> chrono::NaiveTime {
        self.settlement_cutoff.time()
    }

    /// The business time zone.
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.settlement_timezone.tz()
    }
}
