//! The rules of belonging to a household.
//!
//! - A claim whose claimed role is owner, whose name matches an owner on the
//!   property's register for that household, and whose user's verified phone
//!   is that owner's phone, verifies at once. Anything else waits for a
//!   building manager. Knowing a room number alone never grants anything.
//! - A claim moves only from `pending`, to `approved` or `rejected`, once
//!   (a conditional update, so two managers deciding at once cannot both win).
//! - A tenancy ends at its date: the membership stops granting anything.
//! - A household is seen by its own members and by building staff; to
//!   anyone else it does not exist.

pub mod claims;
pub mod invites;
pub mod lists;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    BuildingId, CommunityId, HouseholdId, HouseholdMemberId, MemberRole, UnitId, UserId,
    VerifiedVia, building, community, household, household_claim, household_member, unit, user,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use crate::auth::CommunityScope;
use crate::auth::access::BUILDING_STAFF;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::structure::service as structure;
use claims::ClaimDetails;

/// Building and unit names of a community, to write addresses.
struct Addresses {
    buildings: HashMap<BuildingId, String>,
    units: HashMap<UnitId, String>,
}

impl Addresses {
    async fn load<C: ConnectionTrait>(db: &C, community: CommunityId) -> ApiResult<Self> {
        Ok(Self {
            buildings: building::Entity::find()
                .filter(building::Column::CommunityId.eq(community))
                .all(db)
                .await?
                .into_iter()
                .map(|b| (b.id, b.name))
                .collect(),
            units: unit::Entity::find()
                .filter(unit::Column::CommunityId.eq(community))
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
        })
    }

    /// `1号楼 1单元 101`
    fn label(&self, h: &household::Model) -> String {
        let mut parts = vec![
            self.buildings
                .get(&h.building_id)
                .cloned()
                .unwrap_or_default(),
        ];
        if let Some(u) = h.unit_id.and_then(|u| self.units.get(&u)) {
            parts.push(u.clone());
        }
        parts.push(h.room.clone());
        parts.join(" ")
    }
}

/// The households with these ids, by id.
async fn households_by_id<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = HouseholdId>,
) -> ApiResult<HashMap<HouseholdId, household::Model>> {
    Ok(household::Entity::find()
        .filter(household::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect())
}

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
        .filter(household::Column::AddressKey.eq(structure::address_key(
            b.id,
            unit_id,
            room.trim(),
        )))
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

/// A membership to grant, and how it was verified.
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

/// A household the caller may see: one they belong to, or any for building
/// staff. Others answer 404 (a neighbour's household is not theirs to see).
pub async fn visible_household<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    id: HouseholdId,
) -> ApiResult<household::Model> {
    let household = structure::find_household(db, scope.id(), id).await?;
    if scope.has_any_role(BUILDING_STAFF) || scope.membership(id).is_some() {
        Ok(household)
    } else {
        Err(ApiError::not_found())
    }
}

/// The current members of a household the caller may see, each with their
/// account.
pub async fn members<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    household: HouseholdId,
) -> ApiResult<Vec<(household_member::Model, user::Model)>> {
    let household = visible_household(db, scope, household).await?;
    Ok(household_member::Entity::find()
        .filter(household_member::Column::HouseholdId.eq(household.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .find_also_related(user::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(m, u)| Some((m, u?)))
        .collect())
}

/// Removes a member of a household the caller may see (keeping it as
/// history): building staff remove anyone, an owner removes family members
/// and tenants, and anyone may leave. Returns the removed member's user.
pub async fn remove_member<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    by: UserId,
    household: HouseholdId,
    member: HouseholdMemberId,
) -> ApiResult<UserId> {
    let household = visible_household(db, scope, household).await?;
    let member = household_member::Entity::find_by_id(member)
        .filter(household_member::Column::HouseholdId.eq(household.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let own_role = scope.membership(household.id).map(|m| m.role);
    let allowed = scope.has_any_role(BUILDING_STAFF)
        || member.user_id == by
        || (own_role == Some(MemberRole::Owner) && member.role != MemberRole::Owner);
    if !allowed {
        return Err(ApiError::forbidden());
    }
    let user_id = member.user_id;
    let mut m = member.into_active_model();
    m.removed_at = Set(Some(clock::now()));
    m.removed_by = Set(Some(by));
    m.update(db).await?;
    Ok(user_id)
}

/// One of my households: the membership, its community's name and its
/// address.
pub struct HouseholdOfMine {
    pub membership: household_member::Model,
    pub community_name: String,
    pub address: String,
}

/// `user`'s households (every community), and their claims, newest first.
pub async fn my_households<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> ApiResult<(Vec<HouseholdOfMine>, Vec<ClaimDetails>)> {
    let members = household_member::Entity::find()
        .filter(household_member::Column::UserId.eq(user.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .all(db)
        .await?;
    let claims = household_claim::Entity::find()
        .filter(household_claim::Column::UserId.eq(user.id))
        .order_by_desc(household_claim::Column::Id)
        .all(db)
        .await?;
    let households = households_by_id(
        db,
        members
            .iter()
            .map(|m| m.household_id)
            .chain(claims.iter().map(|c| c.household_id)),
    )
    .await?;
    let mut addresses: HashMap<CommunityId, Addresses> = HashMap::new();
    let mut names: HashMap<CommunityId, String> = HashMap::new();
    for h in households.values() {
        if let std::collections::hash_map::Entry::Vacant(slot) = addresses.entry(h.community_id) {
            slot.insert(Addresses::load(db, h.community_id).await?);
            if let Some(c) = community::Entity::find_by_id(h.community_id)
                .one(db)
                .await?
            {
                names.insert(c.id, c.name);
            }
        }
    }
    let address_of = |id: HouseholdId| {
        households
            .get(&id)
            .and_then(|h| addresses.get(&h.community_id).map(|a| a.label(h)))
            .unwrap_or_default()
    };
    let mine = members
        .into_iter()
        .map(|m| HouseholdOfMine {
            community_name: names.get(&m.community_id).cloned().unwrap_or_default(),
            address: address_of(m.household_id),
            membership: m,
        })
        .collect();
    let claims = claims
        .into_iter()
        .map(|c| ClaimDetails {
            address: address_of(c.household_id),
            claimant_phone: user.phone_masked.clone(),
            claim: c,
        })
        .collect();
    Ok((mine, claims))
}
