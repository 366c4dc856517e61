//! Claims on a household (认证住户): filed by a resident, verified at once
//! against the owner register when they match it, otherwise decided by a
//! building manager, once.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{
    ClaimId, ClaimStatus, CommunityId, HouseholdId, MemberRole, UserId, VerifiedVia, household,
    household_claim, household_member, owner_record, user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{
    Addresses, NewMembership, add_member, find_by_address, households_by_id, membership_row,
    parse_tenant_until,
};
use crate::config::{ResidentSettings, Settings};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{EXPORT_LIMIT, Page, PageRequest};
use crate::kernel::{clock, db};
use crate::rate_limit;

/// A checked claim, as the claimant wrote it: the address as on the door,
/// their name, and the role they claim.
pub struct ClaimRequest {
    pub building: String,
    pub unit: Option<String>,
    pub room: String,
    pub name: String,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// A claim with the household's address and the claimant's masked phone.
pub struct ClaimDetails {
    pub claim: household_claim::Model,
    pub address: String,
    pub claimant_phone: Option<String>,
}

/// What a building manager grants on approving: the claimed role and
/// tenancy unless these say otherwise.
pub struct ApprovalTerms {
    pub role: Option<MemberRole>,
    pub tenant_until: Option<DateTime<Utc>>,
}

/// Files `claimant`'s claim on the household at the claimed address of
/// `community`, verifying it at once against the owner register when it
/// can. At most `residents.claims_per_day` attempts a day: `claim` is the
/// request as parsed, and an attempt counts even when it is ill-formed.
/// Returns the claim, and whether the claimant became a member.
pub async fn file_claim<C>(
    db: &C,
    settings: &ResidentSettings,
    community: CommunityId,
    claimant: &user::Model,
    claim: ApiResult<ClaimRequest>,
) -> ApiResult<(ClaimDetails, bool)>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let key = format!("claims:user:{}", claimant.id);
    let day = Duration::from_secs(24 * 3600);
    if let Some(retry) = rate_limit::blocked_for(db, &key, settings.claims_per_day, day).await? {
        return Err(ApiError::rate_limited(retry));
    }
    rate_limit::record(db, &key, day).await?;
    let claim = claim?;

    let txn = db::begin_write(db).await?;
    let household = find_by_address(
        &txn,
        community,
        &claim.building,
        claim.unit.as_deref(),
        &claim.room,
    )
    .await?
    .ok_or_else(|| {
        ApiError::invalid_field("room", "no household at this address in this community")
    })?;
    let (saved, membership) = record(&txn, &household, claimant, claim).await?;
    txn.commit().await?;
    let address = Addresses::load(db, community).await?.label(&household);
    Ok((
        ClaimDetails {
            claim: saved,
            address,
            claimant_phone: claimant.phone_masked.clone(),
        },
        membership.is_some(),
    ))
}

/// Records a claim on `household`, verifying it at once when it matches the
/// owner register. Returns the claim (and the membership when verified).
async fn record<C: ConnectionTrait>(
    db: &C,
    household: &household::Model,
    claimant: &user::Model,
    claim: ClaimRequest,
) -> ApiResult<(household_claim::Model, Option<household_member::Model>)> {
    let now = clock::now();
    if membership_row(db, household.id, claimant.id)
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
        .filter(household_claim::Column::UserId.eq(claimant.id))
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
        && match &claimant.phone_hash {
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
        user_id: Set(claimant.id),
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
                    user: claimant.id,
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

/// The claims of `community` with `status`, filed before all.
fn with_status(
    community: CommunityId,
    status: ClaimStatus,
) -> sea_orm::Select<household_claim::Entity> {
    household_claim::Entity::find()
        .filter(household_claim::Column::CommunityId.eq(community))
        .filter(household_claim::Column::Status.eq(status))
}

/// One page of the community's claims with `status`, for building managers.
pub async fn claims<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    status: ClaimStatus,
    page: PageRequest,
) -> ApiResult<Page<ClaimDetails>> {
    let page = page
        .fetch(
            with_status(community, status),
            household_claim::Column::Id,
            |m| m.id.as_uuid(),
            db,
        )
        .await?;
    let addresses = Addresses::load(db, community).await?;
    let households = households_by_id(db, page.items.iter().map(|c| c.household_id)).await?;
    let phones: HashMap<UserId, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|c| c.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.phone_masked))
        .collect();
    Ok(page.map(|c| ClaimDetails {
        address: households
            .get(&c.household_id)
            .map(|h| addresses.label(h))
            .unwrap_or_default(),
        claimant_phone: phones.get(&c.user_id).cloned().flatten(),
        claim: c,
    }))
}

/// The community's claims with `status` for a CSV export (at most
/// `EXPORT_LIMIT`), each with its household's address.
pub async fn claims_for_export<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    status: ClaimStatus,
) -> ApiResult<Vec<(household_claim::Model, String)>> {
    let claims = with_status(community, status)
        .order_by_asc(household_claim::Column::Id)
        .limit(EXPORT_LIMIT)
        .all(db)
        .await?;
    let addresses = Addresses::load(db, community).await?;
    let households: HashMap<HouseholdId, household::Model> =
        households_by_id(db, claims.iter().map(|c| c.household_id)).await?;
    Ok(claims
        .into_iter()
        .map(|c| {
            let address = households
                .get(&c.household_id)
                .map(|h| addresses.label(h))
                .unwrap_or_default();
            (c, address)
        })
        .collect())
}

async fn find_claim<C: ConnectionTrait>(
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

/// Approves a pending claim of `community`: the claimant becomes a member of
/// the household (the claimed role and tenancy unless `terms` say
/// otherwise) and is told. Returns the membership.
pub async fn approve<C>(
    db: &C,
    settings: &Settings,
    community: CommunityId,
    id: ClaimId,
    by: UserId,
    terms: ApprovalTerms,
) -> ApiResult<household_member::Model>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db::begin_write(db).await?;
    let claim = find_claim(&txn, community, id).await?;
    let role = terms.role.unwrap_or(claim.role);
    let until = parse_tenant_until(
        role,
        terms
            .tenant_until
            .or(claim.tenant_until)
            .filter(|_| role == MemberRole::Tenant),
    )?;
    decide(&txn, &claim, ClaimStatus::Approved, by, None).await?;
    let member = add_member(
        &txn,
        NewMembership {
            community: claim.community_id,
            household: claim.household_id,
            user: claim.user_id,
            role,
            tenant_until: until,
            via: VerifiedVia::Staff,
            verified_by: Some(by),
        },
    )
    .await?;
    notify_result(&txn, settings, &claim, "已通过").await?;
    txn.commit().await?;
    Ok(member)
}

/// Rejects a pending claim of `community`, telling the claimant why.
pub async fn reject<C>(
    db: &C,
    settings: &Settings,
    community: CommunityId,
    id: ClaimId,
    by: UserId,
    reason: String,
) -> ApiResult<()>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let txn = db::begin_write(db).await?;
    let claim = find_claim(&txn, community, id).await?;
    decide(&txn, &claim, ClaimStatus::Rejected, by, Some(reason)).await?;
    notify_result(&txn, settings, &claim, "未通过").await?;
    txn.commit().await?;
    Ok(())
}

/// Moves a pending claim to `to` (approved or rejected), once.
async fn decide<C: ConnectionTrait>(
    db: &C,
    claim: &household_claim::Model,
    to: ClaimStatus,
    by: UserId,
    reason: Option<String>,
) -> ApiResult<()> {
    debug_assert!(matches!(to, ClaimStatus::Approved | ClaimStatus::Rejected));
    db::guarded(
        db,
        household_claim::Entity::update_many()
            .col_expr(household_claim::Column::Status, Expr::value(to))
            .col_expr(household_claim::Column::DecidedBy, Expr::value(by))
            .col_expr(
                household_claim::Column::DecidedAt,
                Expr::value(clock::now()),
            )
            .col_expr(household_claim::Column::Reason, Expr::value(reason))
            .filter(household_claim::Column::Id.eq(claim.id))
            .filter(household_claim::Column::Status.eq(ClaimStatus::Pending)),
        ApiError::new(ErrorCode::ClaimDecided, "this claim was already decided"),
    )
    .await
}

/// Tells the claimant how their claim was decided (through the outbox, in
/// the decision's transaction).
async fn notify_result<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    claim: &household_claim::Model,
    result: &str,
) -> ApiResult<()> {
    let household = household::Entity::find_by_id(claim.household_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let address = Addresses::load(db, claim.community_id)
        .await?
        .label(&household);
    crate::outbox::service::notify(
        db,
        settings,
        claim.user_id,
        "verification_result",
        &[("result", result.to_owned()), ("household", address)],
    )
    .await
}
