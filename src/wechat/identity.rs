//! One person across the service account and the mini-program: an openid is
//! found first; otherwise the unionid (the same in every app of the company)
//! finds the person's other identity; otherwise a new user is made. A
//! verified phone number joins the rest (see [`bind_phone`]).

use entity::{
    UserId, UserStatus, WechatIdentityId, delivery_company, delivery_company_staff,
    household_claim, household_invite, household_member, merchant, merchant_staff, operator_admin,
    staff_role, user, wechat_identity,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};

use crate::auth::principal::PrincipalCache;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::user as users;

/// What WeChat told us about the person signing in.
#[derive(Debug, Clone)]
pub struct WechatLogin {
    pub app_id: String,
    pub openid: String,
    pub unionid: Option<String>,
    /// The mini-program session key (kept encrypted).
    pub session_key: Option<String>,
    /// From `snsapi_userinfo`.
    pub nickname: Option<String>,
}

/// Finds or creates the user behind a WeChat sign-in.
pub async fn sign_in(
    db: &DatabaseConnection,
    pii: &PiiCipher,
    login: &WechatLogin,
) -> ApiResult<user::Model> {
    // Two first sign-ins racing: the loser's insert hits the unique index and
    // the second round finds the winner's identity.
    for _ in 0..2 {
        match try_sign_in(db, pii, login).await {
            Err(e) if e.code == ErrorCode::Conflict => continue,
            other => return other,
        }
    }
    try_sign_in(db, pii, login).await
}

async fn try_sign_in(
    db: &DatabaseConnection,
    pii: &PiiCipher,
    login: &WechatLogin,
) -> ApiResult<user::Model> {
    let now = clock::now();
    let session_key_enc = match &login.session_key {
        Some(k) => Some(pii.encrypt(k)?),
        None => None,
    };
    let txn = db::begin_write(db).await?;
    let existing = wechat_identity::Entity::find()
        .filter(wechat_identity::Column::AppId.eq(&login.app_id))
        .filter(wechat_identity::Column::Openid.eq(&login.openid))
        .one(&txn)
        .await?;
    let user_id = match existing {
        Some(identity) => {
            let mut active: wechat_identity::ActiveModel = identity.clone().into();
            if login.unionid.is_some() && identity.unionid.is_none() {
                active.unionid = Set(login.unionid.clone());
            }
            if session_key_enc.is_some() {
                active.session_key_enc = Set(session_key_enc);
            }
            active.updated_at = Set(now);
            active.update(&txn).await?;
            identity.user_id
        }
        None => {
            let by_union = match &login.unionid {
                Some(unionid) => wechat_identity::Entity::find()
                    .filter(wechat_identity::Column::Unionid.eq(unionid))
                    .one(&txn)
                    .await?
                    .map(|i| i.user_id),
                None => None,
            };
            let user_id = match by_union {
                Some(id) => id,
                None => {
                    let name = login
                        .nickname
                        .clone()
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| "微信用户".to_owned());
                    users::service::create(&txn, pii, name, None, None)
                        .await?
                        .id
                }
            };
            let inserted = wechat_identity::ActiveModel {
                id: Set(WechatIdentityId::new()),
                user_id: Set(user_id),
                app_id: Set(login.app_id.clone()),
                openid: Set(login.openid.clone()),
                unionid: Set(login.unionid.clone()),
                session_key_enc: Set(session_key_enc),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await;
            if let Err(e) = inserted {
                let e = ApiError::from(e);
                return Err(if e.code == ErrorCode::Internal {
                    e
                } else {
                    ApiError::new(ErrorCode::Conflict, "signed in twice at once")
                });
            }
            user_id
        }
    };
    let user = user::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if user.status != UserStatus::Active {
        return Err(ApiError::new(
            ErrorCode::AccountDisabled,
            "this account is disabled",
        ));
    }
    txn.commit().await?;
    Ok(user)
}

/// What binding a phone number did.
#[derive(Debug)]
pub struct Bound {
    /// The account the caller is now: theirs, or the existing account that
    /// already had this verified number (their WeChat identities moved to it).
    pub user_id: UserId,
    pub merged: bool,
    pub phone_masked: String,
}

/// Binds a phone number WeChat verified to the caller. When another account
/// already has that number (an owner imported by the property, staff added
/// by phone, the same person signed in on the service account), that account
/// is the person: a caller whose account holds nothing but WeChat identities
/// is merged into it; an account with its own history is refused
/// (`409 phone_taken`) rather than merged blindly.
/// The caller's cached principal is dropped afterwards (their standing may
/// have changed).
pub async fn bind_phone(
    db: &DatabaseConnection,
    pii: &PiiCipher,
    principals: &PrincipalCache,
    caller: UserId,
    phone: &PhoneNumber,
) -> ApiResult<Bound> {
    let now = clock::now();
    let txn = db::begin_write(db).await?;
    let me = user::Entity::find_by_id(caller)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let hash = phone.lookup_hash(pii);
    let holder = user::Entity::find()
        .filter(user::Column::PhoneHash.eq(&hash))
        .one(&txn)
        .await?;
    let bound = match holder {
        Some(holder) if holder.id == me.id => Bound {
            user_id: me.id,
            merged: false,
            phone_masked: phone.masked(),
        },
        Some(holder) => {
            if holder.status != UserStatus::Active || is_privileged(&txn, &holder).await? {
                // A number can change hands: privileged accounts are never
                // taken over by proving the phone alone.
                return Err(ApiError::new(
                    ErrorCode::PhoneTaken,
                    "this phone number belongs to a staff, merchant or password account: sign in to it with its password",
                ));
            }
            if !is_bare(&txn, &me).await? {
                return Err(ApiError::new(
                    ErrorCode::PhoneTaken,
                    "another account already has this phone number; ask the property to merge them",
                ));
            }
            wechat_identity::Entity::update_many()
                .col_expr(wechat_identity::Column::UserId, Expr::value(holder.id))
                .col_expr(wechat_identity::Column::UpdatedAt, Expr::value(now))
                .filter(wechat_identity::Column::UserId.eq(me.id))
                .exec(&txn)
                .await?;
            let mut retired: user::ActiveModel = me.clone().into();
            retired.status = Set(UserStatus::Disabled);
            retired.updated_at = Set(now);
            retired.update(&txn).await?;
            crate::auth::service::revoke_all_for_user(&txn, me.id).await?;
            Bound {
                user_id: holder.id,
                merged: true,
                phone_masked: phone.masked(),
            }
        }
        None => {
            let mut active: user::ActiveModel = me.clone().into();
            active.phone_hash = Set(Some(hash));
            active.phone_enc = Set(Some(pii.encrypt(phone.as_str())?));
            active.phone_masked = Set(Some(phone.masked()));
            active.updated_at = Set(now);
            active.update(&txn).await?;
            Bound {
                user_id: me.id,
                merged: false,
                phone_masked: phone.masked(),
            }
        }
    };
    txn.commit().await?;
    principals.invalidate(caller);
    Ok(bound)
}

/// An account with a password or any staff, merchant, courier-company or
/// operator standing.
async fn is_privileged<C: ConnectionTrait>(db: &C, u: &user::Model) -> ApiResult<bool> {
    if u.password_hash.is_some() {
        return Ok(true);
    }
    let id = u.id;
    let held = staff_role::Entity::find()
        .filter(staff_role::Column::UserId.eq(id))
        .count(db)
        .await?
        + merchant_staff::Entity::find()
            .filter(merchant_staff::Column::UserId.eq(id))
            .count(db)
            .await?
        + delivery_company_staff::Entity::find()
            .filter(delivery_company_staff::Column::UserId.eq(id))
            .count(db)
            .await?
        + operator_admin::Entity::find()
            .filter(operator_admin::Column::UserId.eq(id))
            .count(db)
            .await?;
    Ok(held > 0)
}

/// An account made by a WeChat sign-in that has done nothing yet.
async fn is_bare<C: ConnectionTrait>(db: &C, me: &user::Model) -> ApiResult<bool> {
    if me.phone_hash.is_some() || is_privileged(db, me).await? {
        return Ok(false);
    }
    let id = me.id;
    let held = merchant::Entity::find()
        .filter(merchant::Column::CreatedBy.eq(id))
        .count(db)
        .await?
        + delivery_company::Entity::find()
            .filter(delivery_company::Column::CreatedBy.eq(id))
            .count(db)
            .await?
        + household_invite::Entity::find()
            .filter(household_invite::Column::CreatedBy.eq(id))
            .count(db)
            .await?
        + household_member::Entity::find()
            .filter(household_member::Column::UserId.eq(id))
            .count(db)
            .await?
        + household_claim::Entity::find()
            .filter(household_claim::Column::UserId.eq(id))
            .count(db)
            .await?;
    Ok(held == 0)
}

/// The openid a user has in an app, if any.
pub async fn openid_of<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    app_id: &str,
) -> ApiResult<Option<String>> {
    Ok(wechat_identity::Entity::find()
        .filter(wechat_identity::Column::UserId.eq(user_id))
        .filter(wechat_identity::Column::AppId.eq(app_id))
        .one(db)
        .await?
        .map(|i| i.openid))
}

/// The user behind an openid, if they have signed in.
pub async fn user_of<C: ConnectionTrait>(
    db: &C,
    app_id: &str,
    openid: &str,
) -> ApiResult<Option<UserId>> {
    Ok(wechat_identity::Entity::find()
        .filter(wechat_identity::Column::AppId.eq(app_id))
        .filter(wechat_identity::Column::Openid.eq(openid))
        .one(db)
        .await?
        .map(|i| i.user_id))
}
