//! Owners' invitations of family members (家庭成员): a code that works once,
//! until it expires, and only while its inviter still may invite.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::{
    HouseholdId, InviteId, MemberRole, StaffRole, UserId, VerifiedVia, household_invite,
    household_member, staff_role,
};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use sha2::{Digest, Sha256};

use super::{NewMembership, add_member, visible_household};
use crate::auth::CommunityScope;
use crate::auth::access::BUILDING_STAFF;
use crate::config::ResidentSettings;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db};

/// Makes an invitation to a household the caller may see: for its owners
/// and building staff (403 for anyone else). Returns the code (only its
/// hash is kept, so it is shown once) and when it expires
/// (`residents.invite_ttl_hours` from now).
pub async fn create<C: ConnectionTrait>(
    db: &C,
    settings: &ResidentSettings,
    scope: &CommunityScope,
    by: UserId,
    household: HouseholdId,
) -> ApiResult<(String, DateTime<Utc>)> {
    let household = visible_household(db, scope, household).await?;
    let is_owner = scope
        .membership(household.id)
        .is_some_and(|m| m.role == MemberRole::Owner);
    if !is_owner && !scope.has_any_role(BUILDING_STAFF) {
        return Err(ApiError::forbidden());
    }
    let mut raw = [0u8; 18];
    rand::rng().fill_bytes(&mut raw);
    let code = URL_SAFE_NO_PAD.encode(raw);
    let ttl = i64::try_from(settings.invite_ttl_hours).unwrap_or(72);
    let expires_at = clock::now() + chrono::Duration::hours(ttl);
    household_invite::ActiveModel {
        id: Set(InviteId::new()),
        community_id: Set(household.community_id),
        household_id: Set(household.id),
        code_hash: Set(hash_code(&code)),
        created_by: Set(by),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
        revoked_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    Ok((code, expires_at))
}

fn hash_code(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

/// Uses an invitation for `user`, who joins its household as a family
/// member: one use, before it expires, while the inviter is still an owner
/// of the household or building staff of its community.
pub async fn accept<C>(db: &C, code: &str, user: UserId) -> ApiResult<household_member::Model>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db::begin_write(db).await?;
    let member = use_invite(&txn, &hash_code(code), user).await?;
    txn.commit().await?;
    Ok(member)
}

async fn use_invite<C: ConnectionTrait>(
    db: &C,
    code_hash: &str,
    user: UserId,
) -> ApiResult<household_member::Model> {
    let now = clock::now();
    let invite = household_invite::Entity::find()
        .filter(household_invite::Column::CodeHash.eq(code_hash))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such invitation"))?;
    let gone = || {
        ApiError::new(
            ErrorCode::InviteExpired,
            "this invitation has expired or was already used",
        )
    };
    if invite.used_at.is_some() || invite.revoked_at.is_some() || invite.expires_at <= now {
        return Err(gone());
    }
    // The inviter must still be an owner of the household (or building
    // staff of its community): a former owner's code opens nothing.
    let owner_still = household_member::Entity::find()
        .filter(household_member::Column::HouseholdId.eq(invite.household_id))
        .filter(household_member::Column::UserId.eq(invite.created_by))
        .one(db)
        .await?
        .is_some_and(|m| m.role == MemberRole::Owner && m.is_active(now));
    let staff_still = staff_role::Entity::find()
        .filter(staff_role::Column::CommunityId.eq(invite.community_id))
        .filter(staff_role::Column::UserId.eq(invite.created_by))
        .filter(staff_role::Column::Role.is_in([StaffRole::Manager, StaffRole::BuildingManager]))
        .one(db)
        .await?
        .is_some();
    if !owner_still && !staff_still {
        return Err(gone());
    }
    db::guarded(
        db,
        household_invite::Entity::update_many()
            .col_expr(household_invite::Column::UsedAt, Expr::value(now))
            .col_expr(household_invite::Column::UsedBy, Expr::value(user))
            .filter(household_invite::Column::Id.eq(invite.id))
            .filter(household_invite::Column::UsedAt.is_null())
            .filter(household_invite::Column::RevokedAt.is_null())
            .filter(household_invite::Column::ExpiresAt.gt(now)),
        gone(),
    )
    .await?;
    add_member(
        db,
        NewMembership {
            community: invite.community_id,
            household: invite.household_id,
            user,
            role: MemberRole::Family,
            tenant_until: None,
            via: VerifiedVia::Invite,
            verified_by: Some(invite.created_by),
        },
    )
    .await
}
