use sea_orm::entity::prelude::*;

use crate::{ClaimId, ClaimStatus, CommunityId, HouseholdId, MemberRole, UserId};

/// A user's claim to belong to a household.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "household_claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ClaimId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub user_id: UserId,
    pub claimant_name: String,
    pub role: MemberRole,
    pub tenant_until: Option<DateTimeUtc>,
    pub note: Option<String>,
    pub status: ClaimStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
