//! Login, rotating refresh tokens and logout (the development login is a
//! flow: `flows::dev_login`).
//!
//! A login starts a token *family*. Each refresh marks the presented token
//! rotated and issues a new one in the same family. A rotated token presented
//! again means someone kept a copy: the whole family is revoked, so both the
//! thief and the owner must sign in again. Only SHA-256 hashes are stored.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{RefreshTokenId, TokenFamilyId, UserId, UserStatus, refresh_token, user};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use sha2::{Digest, Sha256};

use super::jwt::TokenIssuer;
use super::password;
use super::views::TokenPair;
use crate::config::AuthSettings;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::rate_limit;

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues an access token and a new refresh token in `family`.
pub async fn issue_pair<C: ConnectionTrait>(
    db: &C,
    tokens: &TokenIssuer,
    user_id: UserId,
    family: TokenFamilyId,
) -> ApiResult<TokenPair> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let refresh = URL_SAFE_NO_PAD.encode(raw);
    let now = clock::now();
    let expires_at = now + tokens.refresh_ttl();
    refresh_token::ActiveModel {
        id: Set(RefreshTokenId::new()),
        family_id: Set(family),
        user_id: Set(user_id),
        token_hash: Set(hash_token(&refresh)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        rotated_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(TokenPair {
        user_id,
        access_token: tokens.issue(user_id)?,
        token_type: "Bearer",
        expires_in: tokens.access_ttl_secs(),
        refresh_token: refresh,
        refresh_expires_in: (expires_at - now).num_seconds(),
    })
}

/// Phone + password sign-in for the back office, throttled per phone number
/// and per client address across every instance.
pub async fn login<C: ConnectionTrait>(
    db: &C,
    auth: &AuthSettings,
    tokens: &TokenIssuer,
    pii: &PiiCipher,
    phone: &PhoneNumber,
    candidate: String,
    client_ip: &str,
) -> ApiResult<TokenPair> {
    let window = Duration::from_secs(auth.login_window_secs);
    let phone_hash = phone.lookup_hash(pii);
    let phone_key = format!("login:phone:{phone_hash}");
    let ip_key = format!("login:ip:{client_ip}");
    let per_phone = auth.login_attempts_per_window;
    let per_ip = per_phone.saturating_mul(5);
    if let Some(retry_after) = rate_limit::blocked_for(db, &ip_key, per_ip, window).await? {
        return Err(ApiError::rate_limited(retry_after));
    }
    // Counted before the password is checked, so parallel guesses at one
    // account cannot all pass the check; cleared on success.
    if let Some(retry_after) = rate_limit::hit(db, &phone_key, per_phone, window).await? {
        return Err(ApiError::rate_limited(retry_after));
    }

    let user = user::Entity::find()
        .filter(user::Column::PhoneHash.eq(&phone_hash))
        .one(db)
        .await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let verified = password::verify(candidate, stored).await?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            rate_limit::record(db, &ip_key, window).await?;
            return Err(password::wrong_credentials());
        }
    };
    if user.status != UserStatus::Active {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        ));
    }
    rate_limit::clear(db, &phone_key).await?;
    issue_pair(db, tokens, user.id, TokenFamilyId::new()).await
}

/// Exchanges a refresh token for a new pair (rotation), detecting reuse.
pub async fn refresh(
    db: &DatabaseConnection,
    tokens: &TokenIssuer,
    presented: &str,
) -> ApiResult<TokenPair> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidRefreshToken,
            "the refresh token is not valid",
        )
    };
    let txn = db::begin_write(db).await?;
    let token = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(presented)))
        .one(&txn)
        .await?
        .ok_or_else(invalid)?;
    let now = clock::now();
    if token.revoked_at.is_some() {
        return Err(invalid());
    }
    let reused = || {
        ApiError::new(
            ErrorCode::RefreshTokenReused,
            "this refresh token was already used; sign in again",
        )
    };
    if token.rotated_at.is_some() {
        revoke_family(&txn, token.family_id).await?;
        txn.commit().await?;
        tracing::warn!(user_id = %token.user_id, family = %token.family_id, "refresh token reused; family revoked");
        return Err(reused());
    }
    if token.expires_at <= now {
        return Err(ApiError::new(
            ErrorCode::RefreshTokenExpired,
            "the refresh token has expired; sign in again",
        ));
    }
    // Rotate only if nobody else did in the meantime: two concurrent uses of
    // one token are a reuse too.
    let rotated = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(token.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if rotated.rows_affected != 1 {
        revoke_family(&txn, token.family_id).await?;
        txn.commit().await?;
        return Err(reused());
    }
    let active = user::Entity::find_by_id(token.user_id)
        .one(&txn)
        .await?
        .is_some_and(|u| u.status == UserStatus::Active);
    if !active {
        revoke_family(&txn, token.family_id).await?;
        txn.commit().await?;
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        ));
    }
    let pair = issue_pair(&txn, tokens, token.user_id, token.family_id).await?;
    txn.commit().await?;
    Ok(pair)
}

/// Revokes the family of `presented`. Unknown tokens are ignored: logging out
/// twice is not an error, and the answer reveals nothing.
pub async fn logout<C: ConnectionTrait>(db: &C, presented: &str) -> ApiResult<()> {
    if let Some(token) = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_token(presented)))
        .one(db)
        .await?
    {
        revoke_family(db, token.family_id).await?;
    }
    Ok(())
}

pub async fn revoke_family<C: ConnectionTrait>(db: &C, family: TokenFamilyId) -> ApiResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(clock::now()))
        .filter(refresh_token::Column::FamilyId.eq(family))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn revoke_all_for_user<C: ConnectionTrait>(db: &C, user_id: UserId) -> ApiResult<()> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(clock::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
