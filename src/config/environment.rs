//! Which environment runs (`ANJIA_ENV`): it picks the layer file loaded on
//! top of `default.toml` and whether production's refusals apply.

use std::fmt;

use anyhow::bail;
use serde::Serialize;

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

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
