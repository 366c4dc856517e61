use entity::{UserId, UserStatus, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::kernel::clock;
use crate::kernel::error::ApiResult;
use crate::pii::{PhoneNumber, PiiCipher};

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
