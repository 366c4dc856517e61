//! The checks that span fields (and production's refusals), after each
//! field has parsed on its own.

use anyhow::bail;
use secrecy::ExposeSecret;

use super::{Environment, PaymentProvider, Settings};
use crate::kernel::keys::{decode_key, encoding_aes_key};

impl Settings {
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
}

fn decoded_or_raw(value: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_owned())
}
