//! Layered settings: `config/default.toml`, then `config/{ANJIA_ENV}.toml`, then
//! `ANJIA__SECTION__KEY` environment variables. Every struct denies unknown
//! keys, so a typo is an error at start rather than a silently ignored value.
//! Fields are kernel value types (keys, the menu, the redirect allowlist,
//! local times) that parse as they are read; [`Settings::validate`] then
//! checks what spans fields.
//!
//! - [`environment`]: which layer file applies.
//! - [`server`], [`wechat`], [`outbox`], [`payment`]: the sections.
//! - `validate`: the checks across fields and production's refusals.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::kernel::db::DatabaseSettings;

pub mod environment;
pub mod outbox;
pub mod payment;
pub mod server;
mod validate;
pub mod wechat;

pub use environment::Environment;
pub use outbox::{MessageKind, OutboxSettings};
pub use payment::{PaymentProvider, PaymentSettings, WechatPaySettings};
pub use server::{
    AuthSettings, JobSettings, LogFormat, LogSettings, PiiSettings, ResidentSettings,
    SearchSettings, ServerSettings, StorageBackend, StorageSettings,
};
pub use wechat::{MiniprogramSettings, WechatSettings};

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

    /// The effective configuration as JSON, secrets redacted.
    pub fn redacted_json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }
}

#[cfg(test)]
mod tests;
