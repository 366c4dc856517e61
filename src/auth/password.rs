//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes).
//! Hashing takes tens of milliseconds of CPU, so it runs on the blocking pool,
//! never on the threads that serve requests.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::kernel::error::{ApiError, ErrorCode};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

/// A password that meets the length rules. Never printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    pub fn parse(field: &str, value: String) -> Result<Self, ApiError> {
        let len = value.chars().count();
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&len) {
            return Err(ApiError::invalid_field(
                field,
                format!("must be {MIN_LENGTH} to {MAX_LENGTH} characters"),
            ));
        }
        Ok(Self(value))
    }
}

/// Argon2 needs 19 MiB and tens of milliseconds a call: a burst of logins
/// must queue rather than exhaust memory. Two per core keeps the cores busy.
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores * 2)
    })
}

pub async fn hash(password: Password) -> Result<String, ApiError> {
    let _permit = permits().acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("argon2: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks `candidate` against a stored hash. With no stored hash (unknown
/// user, or one without a password) it still spends the same time on a dummy
/// hash, so response times do not reveal which phone numbers have accounts.
pub async fn verify(candidate: String, stored: Option<String>) -> Result<bool, ApiError> {
    let _permit = permits().acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(dummy_hash);
        let matches = match PasswordHash::new(&hash) {
            Ok(parsed) => Argon2::default()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok(),
            Err(e) if real => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "stored password hash: {e}"
                )));
            }
            Err(_) => false,
        };
        Ok(matches && real)
    })
    .await
    .map_err(ApiError::internal)?
}

fn dummy_hash() -> String {
    // A real argon2id hash of a random value, made once per process.
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            let mut random = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
            Argon2::default()
                .hash_password(&random, &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}

pub fn wrong_credentials() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCredentials,
        "wrong phone number or password",
    )
}
