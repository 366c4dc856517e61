//! The signed-in user as the guard needs them: the user row, whether they are
//! an operator admin, and their staff roles in every community.
//!
//! Loading that takes two queries, on every authenticated request. Each
//! instance keeps a small read cache of principals for a short time
//! (`auth.principal_cache_ttl_ms`, 2 s by default; 0 turns it off). It is a
//! cache, not shared state: a change made through this instance drops the
//! entry at once; a change made through another instance (a role withdrawn,
//! an account disabled) takes effect here within the TTL.

use std::sync::Arc;

use crate::kernel::cache::TtlCache;
use entity::{
    CommunityId, DeliveryCompanyId, MerchantId, MerchantRole, StaffRole, UserId, community,
    delivery_company_staff, household_member, merchant_staff, operator_admin, staff_role, user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationTrait,
};

use crate::kernel::error::ApiResult;

#[derive(Clone, Debug)]
pub struct Principal {
    pub user: user::Model,
    pub is_operator_admin: bool,
    /// Every staff role the user holds, ordered by community name.
    pub staff_roles: Vec<HeldRole>,
    /// The user's household memberships not removed (a tenant's may have
    /// lapsed: check [`household_member::Model::is_active`]).
    pub memberships: Vec<household_member::Model>,
    /// The merchants whose staff the user is on.
    pub merchant_roles: Vec<(MerchantId, MerchantRole)>,
    /// The delivery companies whose staff the user is on.
    pub companies: Vec<DeliveryCompanyId>,
}

#[derive(Clone, Debug)]
pub struct HeldRole {
    pub community_id: CommunityId,
    pub community_name: String,
    pub role: StaffRole,
}

impl Principal {
    /// The user's staff roles in one community.
    pub fn roles_in(&self, community: CommunityId) -> Vec<StaffRole> {
        self.staff_roles
            .iter()
            .filter(|r| r.community_id == community)
            .map(|r| r.role)
            .collect()
    }

    /// The user's memberships in one community that grant something now.
    pub fn memberships_in(&self, community: CommunityId) -> Vec<household_member::Model> {
        let now = crate::kernel::clock::now();
        self.memberships
            .iter()
            .filter(|m| m.community_id == community && m.is_active(now))
            .cloned()
            .collect()
    }

    pub async fn load<C: ConnectionTrait>(db: &C, id: UserId) -> ApiResult<Option<Self>> {
        let Some((user, admin)) = user::Entity::find_by_id(id)
            .find_also_related(operator_admin::Entity)
            .one(db)
            .await?
        else {
            return Ok(None);
        };
        let roles: Vec<(CommunityId, String, StaffRole)> = staff_role::Entity::find()
            .select_only()
            .column(staff_role::Column::CommunityId)
            .column(community::Column::Name)
            .column(staff_role::Column::Role)
            .join(JoinType::InnerJoin, staff_role::Relation::Community.def())
            .filter(staff_role::Column::UserId.eq(id))
            .order_by_asc(community::Column::Name)
            .order_by_asc(staff_role::Column::Role)
            .into_tuple()
            .all(db)
            .await?;
        let memberships = household_member::Entity::find()
            .filter(household_member::Column::UserId.eq(id))
            .filter(household_member::Column::RemovedAt.is_null())
            .all(db)
            .await?;
        let merchant_roles: Vec<(MerchantId, MerchantRole)> = merchant_staff::Entity::find()
            .select_only()
            .column(merchant_staff::Column::MerchantId)
            .column(merchant_staff::Column::Role)
            .filter(merchant_staff::Column::UserId.eq(id))
            .into_tuple()
            .all(db)
            .await?;
        let companies: Vec<DeliveryCompanyId> = delivery_company_staff::Entity::find()
            .select_only()
            .column(delivery_company_staff::Column::CompanyId)
            .filter(delivery_company_staff::Column::UserId.eq(id))
            .into_tuple()
            .all(db)
            .await?;
        Ok(Some(Self {
            companies,
            merchant_roles,
            memberships,
            user,
            is_operator_admin: admin.is_some(),
            staff_roles: roles
                .into_iter()
                .map(|(community_id, community_name, role)| HeldRole {
                    community_id,
                    community_name,
                    role,
                })
                .collect(),
        }))
    }
}

/// This instance's short-lived principal cache.
#[derive(Clone, Debug)]
pub struct PrincipalCache {
    cache: TtlCache<UserId, Arc<Principal>>,
}

impl PrincipalCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            cache: TtlCache::new(ttl_ms, 100_000),
        }
    }

    pub async fn get<C: ConnectionTrait>(
        &self,
        db: &C,
        id: UserId,
    ) -> ApiResult<Option<Arc<Principal>>> {
        if let Some(hit) = self.cache.get(&id) {
            return Ok(Some(hit));
        }
        let loaded = Principal::load(db, id).await?.map(Arc::new);
        if let Some(p) = &loaded {
            self.cache.insert(id, Arc::clone(p));
        }
        Ok(loaded)
    }

    /// Forget `id` after a change to their account or roles.
    pub fn invalidate(&self, id: UserId) {
        self.cache.invalidate(&id);
    }
}
