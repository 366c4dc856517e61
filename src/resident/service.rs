//! The rules of belonging to a household.
//!
//! - A claim whose claimed role is owner, whose name matches an owner on the
//!   property's register for that household, and whose user's verified phone
//!   is that owner's phone, verifies at once. Anything else waits for a
//!   building manager. Knowing a room number alone never grants anything.
//! - A claim moves only from `pending`, to `approved` or `rejected`, once
//!   (a conditional update, so two managers deciding at once cannot both win).
//! - A tenancy ends at its date: the membership stops granting anything.

use chrono::{DateTime, Utc};
use entity::{
    ClaimId, ClaimStatus, CommunityId, HouseholdId, HouseholdMemberId, InviteId, MemberRole,
    StaffRole, UserId, VerifiedVia, building, household, household_claim, household_invite,
    household_member, owner_record, staff_role, unit, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// The household at an address written as on the door.
pub async fn find_by_address<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    building_name: &str,
    unit_name: Option<&str>,
    room: &str,
) -> ApiResult<Option<household::Model>> {
    let no_such = || Ok(None);
    let Some(b) = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community))
        .filter(building::Column::Name.eq(building_name.trim()))
        .one(db)
        .await?
    else {
        return no_such();
    };
    let unit_id = match unit_name.map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(name) => match unit::Entity::find()
            .filter(unit::Column::BuildingId.eq(b.id))
            .filter(unit::Column::Name.eq(name))
            .one(db)
            .await?
        {
            Some(u) => Some(u.id),
            None => return no_such(),
        },
    };
    Ok(household::Entity::find()
        .filter(household::Column::CommunityId.eq(community))
        .filter(
            household::Column::AddressKey.eq(crate::structure::service::address_key(
                b.id,
                unit_id,
                room.trim(),
            )),
        )
        .one(db)
        .await?)
}

/// A checked tenancy end: in the future.
pub fn parse_tenant_until(
    role: MemberRole,
    until: Option<DateTime<Utc>>,
) -> ApiResult<Option<DateTime<Utc>>> {
    match (role, until) {
        (MemberRole::Tenant, None) => Err(ApiError::invalid_field(
            "tenant_until",
            "a tenancy needs an end date",
        )),
        (MemberRole::Tenant, Some(t)) if t <= clock::now() => Err(ApiError::invalid_field(
            "tenant_until",
            "must be in the future",
        )),
        (MemberRole::Tenant, Some(t)) => Ok(Some(t)),
        (_, Some(_)) => Err(ApiError::invalid_field(
            "tenant_until",
            "only tenancies end",
        )),
        (_, None) => Ok(None),
    }
}

/// The user's membership row of `household`, removed or not.
async fn membership_row<C: ConnectionTrait>(
    db: &C,
    household: HouseholdId,
    user: UserId,
) -> ApiResult<Option<household_member::Model>> {
    Ok(household_member::Entity::find()
        .filter(household_member::Column::HouseholdId.eq(household))
        .filter(household_member::Column::UserId.eq(user))
        .one(db)
        .await?)
}

pub struct NewMembership {
    pub community: CommunityId,
    pub household: HouseholdId,
    pub user: UserId,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub via: VerifiedVia,
    pub verified_by: Option<UserId>,
}

/// Makes `user` a member of `household` (reviving a removed membership);
/// `409 already_member` if they already are one.
pub async fn add_member<C: ConnectionTrait>(
    db: &C,
    new: NewMembership,
) -> ApiResult<household_member::Model> {
    let now = clock::now();
    match membership_row(db, new.household, new.user).await? {
        Some(existing) if existing.is_active(now) => Err(ApiError::new(
            ErrorCode::AlreadyMember,
            "already a member of this household",
        )),
        Some(existing) => {
            let mut m = existing.into_active_model();
            m.role = Set(new.role);
            m.tenant_until = Set(new.tenant_until);
            m.verified_via = Set(new.via);
            m.verified_by = Set(new.verified_by);
            m.created_at = Set(now);
            m.removed_at = Set(None);
            m.removed_by = Set(None);
            Ok(m.update(db).await?)
        }
        None => Ok(household_member::ActiveModel {
            id: Set(HouseholdMemberId::new()),
            community_id: Set(new.community),
            household_id: Set(new.household),
            user_id: Set(new.user),
            role: Set(new.role),
            tenant_until: Set(new.tenant_until),
            verified_via: Set(new.via),
            verified_by: Set(new.verified_by),
            created_at: Set(now),
            removed_at: Set(None),
            removed_by: Set(None),
        }
        .insert(db)
        .await?),
    }
}

pub struct NewClaim {
    pub household: household::Model,
    pub claimant: user::Model,
    pub name: String,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// Files a claim, verifying it at once against the owner register when it
/// can. Returns the claim (and the membership when verified).
pub async fn file_claim<C: ConnectionTrait>(
    db: &C,
    claim: NewClaim,
) -> ApiResult<(household_claim::Model, Option<household_member::Model>)> {
    let now = clock::now();
    let household = &claim.household;
    if membership_row(db, household.id, claim.claimant.id)
        .await?
        .is_some_and(|m| m.is_active(now))
    {
        return Err(ApiError::new(
            ErrorCode::AlreadyMember,
            "already a member of this household",
        ));
    }
    let pending = household_claim::Entity::find()
        .filter(household_claim::Column::HouseholdId.eq(household.id))
        .filter(household_claim::Column::UserId.eq(claim.claimant.id))
        .filter(household_claim::Column::Status.eq(ClaimStatus::Pending))
        .one(db)
        .await?;
    if pending.is_some() {
        return Err(ApiError::new(
            ErrorCode::ClaimPending,
            "a claim of yours on this household is waiting for a building manager",
        ));
    }
    let matches_register = claim.role == MemberRole::Owner
        && match &claim.claimant.phone_hash {
            Some(phone_hash) => owner_record::Entity::find()
                .filter(owner_record::Column::HouseholdId.eq(household.id))
                .filter(owner_record::Column::PhoneHash.eq(phone_hash))
                .one(db)
                .await?
                .is_some_and(|o| o.owner_name == claim.name),
            None => false,
        };
    let status = if matches_register {
        ClaimStatus::AutoVerified
    } else {
        ClaimStatus::Pending
    };
    let saved = household_claim::ActiveModel {
        id: Set(ClaimId::new()),
        community_id: Set(household.community_id),
        household_id: Set(household.id),
        user_id: Set(claim.claimant.id),
        claimant_name: Set(claim.name),
        role: Set(claim.role),
        tenant_until: Set(claim.tenant_until),
        note: Set(claim.note),
        status: Set(status),
        reason: Set(None),
        decided_by: Set(None),
        decided_at: Set(matches_register.then_some(now)),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let membership = if matches_register {
        Some(
            add_member(
                db,
                NewMembership {
                    community: household.community_id,
                    household: household.id,
                    user: claim.claimant.id,
                    role: MemberRole::Owner,
                    tenant_until: None,
                    via: VerifiedVia::OwnerRecord,
                    verified_by: None,
                },
            )
            .await?,
        )
    } else {
        None
    };
    Ok((saved, membership))
}

pub async fn find_claim<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: ClaimId,
) -> ApiResult<household_claim::Model> {
    household_claim::Entity::find_by_id(id)
        .filter(household_claim::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Moves a pending claim to `to` (approved or rejected), once.
pub async fn decide_claim<C: ConnectionTrait>(
    db: &C,
    claim: &household_claim::Model,
    to: ClaimStatus,
    by: UserId,
    reason: Option<String>,
) -> ApiResult<()> {
    debug_assert!(matches!(to, ClaimStatus::Approved | ClaimStatus::Rejected));
    let moved = household_claim::Entity::update_many()
        .col_expr(household_claim::Column::Status, Expr::value(to))
        .col_expr(household_claim::Column::DecidedBy, Expr::value(by))
        .col_expr(
            household_claim::Column::DecidedAt,
            Expr::value(clock::now()),
        )
        .col_expr(household_claim::Column::Reason, Expr::value(reason))
        .filter(household_claim::Column::Id.eq(claim.id))
        .filter(household_claim::Column::Status.eq(ClaimStatus::Pending))
        .exec(db)
        .await?;
    if moved.rows_affected == 1 {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ClaimDecided,
            "this claim was already decided",
        ))
    }
}

/// Removes a membership (keeping it as history).
pub async fn remove_member<C: ConnectionTrait>(
    db: &C,
    member: household_member::Model,
    by: UserId,
) -> ApiResult<()> {
    let mut m = member.into_active_model();
    m.removed_at = Set(Some(clock::now()));
    m.removed_by = Set(Some(by));
    m.update(db).await?;
    Ok(())
}

pub async fn create_invite<C: ConnectionTrait>(
    db: &C,
    household: &household::Model,
    by: UserId,
    code_hash: String,
    expires_at: DateTime<Utc>,
) -> ApiResult<household_invite::Model> {
    Ok(household_invite::ActiveModel {
        id: Set(InviteId::new()),
        community_id: Set(household.community_id),
        household_id: Set(household.id),
        code_hash: Set(code_hash),
        created_by: Set(by),
        expires_at: Set(expires_at),
        used_at: Set(None),
        used_by: Set(None),
        revoked_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

/// Uses an invitation for `user`: one use, before it expires.
pub async fn accept_invite<C: ConnectionTrait>(
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
    let used = household_invite::Entity::update_many()
        .col_expr(household_invite::Column::UsedAt, Expr::value(now))
        .col_expr(household_invite::Column::UsedBy, Expr::value(user))
        .filter(household_invite::Column::Id.eq(invite.id))
        .filter(household_invite::Column::UsedAt.is_null())
        .filter(household_invite::Column::RevokedAt.is_null())
        .filter(household_invite::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    if used.rows_affected != 1 {
        return Err(gone());
    }
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
