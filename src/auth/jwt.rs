//! Access tokens: HS256 JWTs that live minutes. They carry only the user id;
//! roles are read from the database on each request, so a revoked role stops
//! working at once.

use chrono::Utc;
use entity::UserId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::AuthSettings;
use crate::kernel::error::{ApiError, ErrorCode};

const ISSUER: &str = "anjia";
const AUDIENCE: &str = "anjia-api";
const ACCESS: &str = "access";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: UserId,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    typ: String,
}

pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl_secs: i64,
    /// Refresh tokens are opaque (see `auth::service`); only their lifetime
    /// is kept here, beside the access tokens'.
    refresh_ttl_days: i64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer([redacted])")
    }
}

impl TokenIssuer {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl_secs: i64::try_from(settings.access_token_ttl_secs).unwrap_or(900),
            refresh_ttl_days: i64::try_from(settings.refresh_token_ttl_days).unwrap_or(30),
        }
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    /// How long a refresh token works (`auth.refresh_token_ttl_days`).
    pub fn refresh_ttl(&self) -> chrono::Duration {
        chrono::Duration::days(self.refresh_ttl_days)
    }

    /// A signed access token for `user`, valid for the configured lifetime.
    pub fn issue(&self, user: UserId) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        self.issue_with_times(user, now, now + self.access_ttl_secs)
    }

    /// For tests of expiry: a token with explicit times.
    pub fn issue_with_times(&self, user: UserId, iat: i64, exp: i64) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user,
            iat,
            exp,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            typ: ACCESS.to_owned(),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(ApiError::internal)
    }

    /// The user an access token speaks for, or `401` saying why not.
    pub fn verify(&self, token: &str) -> Result<UserId, ApiError> {
        let data =
            decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => {
                        ApiError::new(ErrorCode::TokenExpired, "the access token has expired")
                    }
                    _ => ApiError::new(ErrorCode::InvalidToken, "the access token is not valid"),
                }
            })?;
        if data.claims.typ != ACCESS {
            return Err(ApiError::new(
                ErrorCode::InvalidToken,
                "not an access token",
            ));
        }
        Ok(data.claims.sub)
    }
}
