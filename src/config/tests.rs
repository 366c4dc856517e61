//! The settings load from the repository's files, refuse what production
//! must not run with, and never show a secret.

use std::path::PathBuf;

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

#[test]
fn a_cutoff_that_is_not_a_time_refuses_the_settings_naming_the_key() {
    let layers = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir().join("default.toml"),
        layers.path().join("default.toml"),
    )
    .unwrap();
    std::fs::copy(
        dir().join("development.toml"),
        layers.path().join("development.toml"),
    )
    .unwrap();
    let mut development = std::fs::read_to_string(layers.path().join("development.toml")).unwrap();
    development.push_str("\n[payment]\nsettlement_cutoff = \"25:00\"\n");
    std::fs::write(layers.path().join("development.toml"), development).unwrap();
    let err = Settings::load_from(layers.path(), Environment::Development).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("payment.settlement_cutoff"), "{err}");
    assert!(err.contains("is not a time such as \"18:00\""), "{err}");
}
