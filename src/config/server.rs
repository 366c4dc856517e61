//! The server's own sections: listening, sign-in, residents, file storage,
//! personal data, logs, background jobs and search.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::redact;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub body_limit_bytes: usize,
    pub upload_limit_bytes: usize,
    pub trust_forwarded_for: bool,
    /// Where browsers reach this server (WeChat OAuth returns here; QR image links).
    pub public_base_url: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    #[serde(serialize_with = "redact")]
    pub jwt_secret: SecretString,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub dev_login: bool,
    pub login_attempts_per_window: u32,
    pub login_window_secs: u64,
    pub principal_cache_ttl_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub backend: StorageBackend,
    pub fs_root: String,
    pub s3_bucket: String,
    pub s3_region: String,
    pub s3_endpoint: String,
    pub s3_access_key_id: String,
    #[serde(serialize_with = "redact")]
    pub s3_secret_access_key: SecretString,
    pub max_image_pixels: u64,
    pub download_url_ttl_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Fs,
    S3,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResidentSettings {
    pub claims_per_day: u32,
    pub invite_ttl_hours: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PiiSettings {
    #[serde(serialize_with = "redact")]
    pub encryption_key: SecretString,
    #[serde(serialize_with = "redact")]
    pub hash_key: SecretString,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Background jobs (deadlines, timeouts, reminders). Every instance may run
/// them: each move is a conditional update and claims skip locked rows.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Run the sweepers in this process.
    pub enabled: bool,
    /// How often they look for due work.
    pub interval_ms: u64,
    /// Rows one sweep claims at a time.
    pub batch_size: u32,
    /// Remind residents of an order waiting at a pickup point after this many hours.
    pub pickup_reminder_hours: u32,
}

/// Product search.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSettings {
    /// Each instance answers a repeated query (same community, words,
    /// filters and page) from the page it built this recently. 0 = off.
    pub result_cache_ms: u64,
}
