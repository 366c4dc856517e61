//! Layered settings: `config/default.toml`, then `config/{ANJIA_ENV}.toml`, then
//! `ANJIA__SECTION__KEY` environment variables. Every struct denies unknown
//! keys, so a typo is an error at start rather than a silently ignored value.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::kernel::db::DatabaseSettings;
use crate::kernel::keys::{decode_key, encoding_aes_key};
use crate::kernel::menu::Menu;
use crate::kernel::redirect::AllowEntry;

/// Which layer file is loaded on top of `default.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }

    /// Reads `ANJIA_ENV` (default `development`).
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var("ANJIA_ENV") {
            Ok(value) => value.parse(),
            Err(std::env::VarError::NotPresent) => Ok(Environment::Development),
            Err(e) => bail!("ANJIA_ENV: {e}"),
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Environment::Development),
            "test" => Ok(Environment::Test),
            "production" | "prod" => Ok(Environment::Production),
            other => bail!("ANJIA_ENV must be development, test or production, not {other:?}"),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(skip_deserializing, default = "default_environment")]
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub residents: ResidentSettings,
    pub storage: StorageSettings,
    pub pii: PiiSettings,
    pub log: LogSettings,
    pub wechat: WechatSettings,
    pub miniprogram: MiniprogramSettings,
    pub outbox: OutboxSettings,
    pub payment: PaymentSettings,
    pub wechat_pay: WechatPaySettings,
    pub jobs: JobSettings,
    pub search: SearchSettings,
    /// Outbound message kinds by key (`order_paid`, `verification_result`, …).
    #[serde(default)]
    pub messages: std::collections::BTreeMap<String, MessageKind>,
}

fn default_environment() -> Environment {
    Environment::Development
}

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

/// The outbound message worker.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// Run the delivery worker in this process (any number of instances may).
    pub worker: bool,
    /// How often an idle worker looks for due messages.
    pub poll_interval_ms: u64,
    /// Messages one worker claims at a time.
    pub batch_size: u32,
    /// Messages per second across all instances (WeChat's limits).
    pub rate_per_sec: u32,
    /// Attempts before a transient failure becomes `failed`.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt up to `backoff_max_secs`.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// A claimed message is another worker's to retry after this long.
    pub lease_secs: u64,
}

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
    pub settlement_cutoff: String,
    /// The business day's time zone (cutoff and daily statements).
    pub settlement_timezone: String,
    /// Orders the settlement job settles per transaction (one ledger entry
    /// per merchant each).
    pub settlement_batch: u32,
}

impl PaymentSettings {
    /// The cutoff as a time of day (checked when the settings load).
    pub fn cutoff(&self) -> chrono::NaiveTime {
        chrono::NaiveTime::parse_from_str(self.settlement_cutoff.trim(), "%H:%M")
            .unwrap_or(chrono::NaiveTime::MIN)
    }

    /// The business time zone (checked when the settings load).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.settlement_timezone
            .parse()
            .unwrap_or(chrono_tz::Asia::Shanghai)
    }
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

/// One message kind: what it says and which template carries it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MessageKind {
    /// The text a person reads (`{name}` placeholders take the message's
    /// parameters); also the sandbox and customer-service rendering.
    pub text: String,
    /// Service-account template id (模板消息); empty = not sent that way.
    #[serde(default)]
    pub template_id: String,
    /// Mini-program subscribe-message template id (订阅消息); empty = not sent that way.
    #[serde(default)]
    pub subscribe_template_id: String,
    /// The mini-program page (and H5 path) the message opens.
    #[serde(default)]
    pub page: String,
    /// Template field → value with `{name}` placeholders.
    #[serde(default)]
    pub template_fields: std::collections::BTreeMap<String, String>,
    /// Subscribe-message field → value with `{name}` placeholders.
    #[serde(default)]
    pub subscribe_fields: std::collections::BTreeMap<String, String>,
}

fn redact<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    if secret.expose_secret().is_empty() {
        s.serialize_str("")
    } else {
        s.serialize_str("[redacted]")
    }
}

/// Where the layer files are read from: `ANJIA_CONFIG_DIR`, else `./config`.
pub fn config_dir() -> PathBuf {
    std::env::var_os("ANJIA_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"))
}

impl Settings {
    /// Loads the layers for the environment named by `ANJIA_ENV`, from
    /// [`config_dir`], with environment variables on top.
    pub fn load() -> anyhow::Result<Self> {
        Self::load_from(&config_dir(), Environment::from_env()?)
    }

    pub fn load_from(dir: &Path, environment: Environment) -> anyhow::Result<Self> {
        let default_file = dir.join("default.toml");
        if !default_file.is_file() {
            bail!(
                "configuration file {} not found (run from the repository root, or set ANJIA_CONFIG_DIR)",
                default_file.display()
            );
        }
        let builder = config::Config::builder()
            .add_source(config::File::from(default_file))
            .add_source(
                config::File::from(dir.join(format!("{}.toml", environment.as_str())))
                    .required(false),
            )
            .add_source(
                config::Environment::with_prefix("ANJIA")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("wechat.oauth_redirect_allowlist"),
            );
        let mut settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.environment = environment;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that hold in every environment, plus production's refusals.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        if self.server.body_limit_bytes == 0 {
            problems.push("server.body_limit_bytes must be positive".to_owned());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be positive".to_owned());
        }
        if self.auth.access_token_ttl_secs == 0 || self.auth.refresh_token_ttl_days == 0 {
            problems.push("auth token lifetimes must be positive".to_owned());
        }
        if self.auth.login_attempts_per_window == 0 || self.auth.login_window_secs == 0 {
            problems.push("auth login throttling values must be positive".to_owned());
        }
        if self.outbox.batch_size == 0
            || self.outbox.rate_per_sec == 0
            || self.outbox.max_attempts == 0
        {
            problems.push(
                "outbox.batch_size, rate_per_sec and max_attempts must be positive".to_owned(),
            );
        }
        if self.payment.unpaid_timeout_mins == 0 || self.payment.auto_confirm_days == 0 {
            problems.push(
                "payment.unpaid_timeout_mins and auto_confirm_days must be positive".to_owned(),
            );
        }
        if !(1..=10_000).contains(&self.payment.settlement_batch) {
            problems.push("payment.settlement_batch must be from 1 to 10,000".to_owned());
        }
        if chrono::NaiveTime::parse_from_str(self.payment.settlement_cutoff.trim(), "%H:%M")
            .is_err()
        {
            problems.push("payment.settlement_cutoff must be a time such as \"18:00\"".to_owned());
        }
        if self
            .payment
            .settlement_timezone
            .parse::<chrono_tz::Tz>()
            .is_err()
        {
            problems.push(
                "payment.settlement_timezone must be an IANA zone such as \"Asia/Shanghai\""
                    .to_owned(),
            );
        }
        if self.payment.provider == PaymentProvider::WechatPay {
            let p = &self.wechat_pay;
            for (name, value) in [
                ("mch_id", &p.mch_id),
                ("app_id", &p.app_id),
                ("merchant_serial_no", &p.merchant_serial_no),
                ("merchant_private_key_path", &p.merchant_private_key_path),
                ("api_base", &p.api_base),
                ("notify_url", &p.notify_url),
                ("refund_notify_url", &p.refund_notify_url),
            ] {
                if value.trim().is_empty() {
                    problems.push(format!(
                        "wechat_pay.{name} is required when payment.provider = \"wechat_pay\""
                    ));
                }
            }
            if p.api_v3_key.expose_secret().len() != 32 {
                problems.push("wechat_pay.api_v3_key must be exactly 32 characters".to_owned());
            }
            if p.platform_public_key_path.trim().is_empty()
                && p.platform_certificate_paths.is_empty()
            {
                problems.push(
                    "wechat_pay needs platform_public_key_id and platform_public_key_path, and/or platform_certificate_paths"
                        .to_owned(),
                );
            }
            if !p.transfer_scene_id.trim().is_empty() && p.transfer_notify_url.trim().is_empty() {
                problems.push(
                    "wechat_pay.transfer_notify_url is required with transfer_scene_id".to_owned(),
                );
            }
            if p.platform_public_key_path.trim().is_empty()
                != p.platform_public_key_id.trim().is_empty()
            {
                problems.push(
                    "wechat_pay.platform_public_key_id and platform_public_key_path go together"
                        .to_owned(),
                );
            }
        }
        if self.jobs.interval_ms == 0 || self.jobs.batch_size == 0 {
            problems.push("jobs.interval_ms and batch_size must be positive".to_owned());
        }
        if !self.wechat.sandbox() {
            if let Err(e) = encoding_aes_key(self.wechat.encoding_aes_key.expose_secret())
                && !self.wechat.encoding_aes_key.expose_secret().is_empty()
            {
                problems.push(format!("wechat.encoding_aes_key: {e}"));
            }
            if self.wechat.token.expose_secret().is_empty() {
                problems.push("wechat.token is required with wechat.app_id".to_owned());
            }
        }
        let jwt = self.auth.jwt_secret.expose_secret();
        if jwt.len() < 32 {
            problems.push("auth.jwt_secret must be at least 32 bytes".to_owned());
        }
        for (name, key) in [
            ("pii.encryption_key", &self.pii.encryption_key),
            ("pii.hash_key", &self.pii.hash_key),
        ] {
            if decode_key(key.expose_secret()).is_err() {
                problems.push(format!("{name} must be 32 bytes, base64-encoded"));
            }
        }
        let loopback = matches!(self.server.host.as_str(), "127.0.0.1" | "localhost" | "::1");
        if self.environment != Environment::Production && !loopback {
            if self.auth.dev_login {
                problems.push(format!(
                    "auth.dev_login is on while listening on {}: development settings serve loopback only (set ANJIA_ENV=production)",
                    self.server.host
                ));
            }
            if jwt.starts_with("insecure-") {
                problems.push(format!(
                    "auth.jwt_secret is a development value while listening on {} (set ANJIA_ENV=production)",
                    self.server.host
                ));
            }
        }
        if self.environment == Environment::Production {
            let secrets = [
                ("auth.jwt_secret", jwt.to_owned()),
                (
                    "pii.encryption_key",
                    decoded_or_raw(self.pii.encryption_key.expose_secret()),
                ),
                (
                    "pii.hash_key",
                    decoded_or_raw(self.pii.hash_key.expose_secret()),
                ),
            ];
            for (name, value) in secrets {
                if value.starts_with("insecure-") {
                    problems.push(format!(
                        "{name} is a development value; set a real secret (ANJIA__{})",
                        name.replace('.', "__").to_ascii_uppercase()
                    ));
                }
            }
            if !self.server.public_base_url.starts_with("https://") {
                problems.push("server.public_base_url must be https in production".to_owned());
            }
            if self.auth.dev_login {
                problems.push("auth.dev_login must be false in production".to_owned());
            }
            if self.wechat.sandbox() {
                problems.push(
                    "WeChat is in sandbox mode (wechat.app_id is empty); production needs the service account's credentials"
                        .to_owned(),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!(
                "configuration refused ({}):\n  - {}",
                self.environment.as_str(),
                problems.join("\n  - ")
            )
        }
    }

    /// The effective configuration as JSON, secrets redacted.
    pub fn redacted_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}

fn decoded_or_raw(value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_owned())
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::db::redacted_url;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn development_settings_load_with_sandbox_wechat_and_dev_login() {
        let s = Settings::load_from(&dir(), Environment::Development).unwrap();
        assert!(s.wechat.sandbox());
        assert!(s.auth.dev_login);
        assert_eq!(s.database.url, "sqlite://data/anjia.db?mode=rwc");
    }

    #[test]
    fn production_refuses_development_secrets_dev_login_and_sandbox() {
        let mut s = Settings::load_from(&dir(), Environment::Test).unwrap();
        s.environment = Environment::Production;
        let err = s.validate().unwrap_err().to_string();
        assert!(
            err.contains("auth.jwt_secret is a development value"),
            "{err}"
        );
        assert!(
            err.contains("pii.encryption_key is a development value"),
            "{err}"
        );
        assert!(err.contains("dev_login"), "{err}");
        assert!(err.contains("sandbox"), "{err}");
    }

    #[test]
    fn secrets_never_appear_in_debug_or_the_redacted_dump() {
        let s = Settings::load_from(&dir(), Environment::Test).unwrap();
        let debug = format!("{s:?}");
        let dump = s.redacted_json().unwrap();
        for text in [debug, dump] {
            assert!(!text.contains("insecure-test-jwt-secret"), "{text}");
            assert!(!text.contains("aW5zZWN1cmUtZGV2LXBpaS1"), "{text}");
        }
    }

    #[test]
    fn database_urls_lose_their_password_when_shown() {
        assert_eq!(
            redacted_url("postgres://anjia:hunter2@db:5432/anjia"),
            "postgres://anjia:[redacted]@db:5432/anjia"
        );
        assert_eq!(
            redacted_url("sqlite://data/anjia.db"),
            "sqlite://data/anjia.db"
        );
    }
}
