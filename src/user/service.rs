//! The rules of user accounts: creating one, finding one by phone number,
//! and changing a password.

use std::time::Duration;

use entity::{UserId, UserStatus, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
};

use crate::auth::password::{self, Password};
use crate::auth::service as auth_service;
use crate::config::AuthSettings;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::rate_limit;

/// A checked password change: the new password is a valid one.
pub struct PasswordChange {
    pub current: String,
    pub new: Password,
}

/// Creates a user. The phone number is stored encrypted, hashed for lookup
/// and masked for display; a taken number is `409 phone_taken`.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    display_name: String,
    phone: Option<&PhoneNumber>,
    password_hash: Option<String>,
) -> ApiResult<user::Model> {
    let now = clock::now();
    let (phone_hash, phone_enc, phone_masked) = match phone {
        Some(p) => (
            Some(p.lookup_hash(pii)),
            Some(pii.encrypt(p.as_str())?),
            Some(p.masked()),
        ),
        None => (None, None, None),
    };
    let model = user::ActiveModel {
        id: Set(UserId::new()),
        display_name: Set(display_name),
        phone_hash: Set(phone_hash),
        phone_enc: Set(phone_enc),
        phone_masked: Set(phone_masked),
        password_hash: Set(password_hash),
        status: Set(UserStatus::Active),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(model.insert(db).await?)
}

/// The user with this phone number, found by its lookup hash.
pub async fn find_by_phone<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    phone: &PhoneNumber,
) -> ApiResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::PhoneHash.eq(phone.lookup_hash(pii)))
        .one(db)
        .await?)
}

/// Changes `user`'s password when the current one is right, and revokes
/// every refresh token of theirs, so other devices must sign in again.
/// Attempts are throttled like sign-in (`auth.login_attempts_per_window`):
/// a stolen access token must not become an unlimited oracle for the
/// current password.
pub async fn change_password<C>(
    db: &C,
    auth: &AuthSettings,
    user: UserId,
    change: PasswordChange,
) -> ApiResult<()>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let key = format!("password-change:{user}");
    let window = Duration::from_secs(auth.login_window_secs);
    if let Some(retry) = rate_limit::hit(db, &key, auth.login_attempts_per_window, window).await? {
        return Err(ApiError::rate_limited(retry));
    }
    // The stored hash as it is now, not as the principal cache remembers it.
    let current = user::Entity::find_by_id(user)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(stored) = current.password_hash.clone() else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this account signs in through WeChat and has no password",
        ));
    };
    if !password::verify(change.current, Some(stored)).await? {
        return Err(password::wrong_credentials());
    }
    let hash = password::hash(change.new).await?;
    let txn = db::begin_write(db).await?;
    let mut model: user::ActiveModel = current.into_active_model();
    model.password_hash = Set(Some(hash));
    model.updated_at = Set(clock::now());
    model.update(&txn).await?;
    auth_service::revoke_all_for_user(&txn, user).await?;
    txn.commit().await?;
    rate_limit::clear(db, &key).await?;
    Ok(())
}
