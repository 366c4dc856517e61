use sea_orm::entity::prelude::*;

use crate::{CommunityId, HouseholdId, HouseholdMemberId, MemberRole, UserId, VerifiedVia};

/// A user's membership of a household. Removed memberships keep their row
/// (with `removed_at`) as history.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "household_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: HouseholdMemberId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub user_id: UserId,
    pub role: MemberRole,
    /// For tenants: access lapses at this moment.
    pub tenant_until: Option<DateTimeUtc>,
    pub verified_via: VerifiedVia,
    pub verified_by: Option<UserId>,
    pub created_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by: Option<UserId>,
}

impl Model {
    /// Whether this membership grants anything at `now`.
    pub fn is_active(&self, now: DateTimeUtc) -> bool {
        self.removed_at.is_none() && self.tenant_until.is_none_or(|until| until > now)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
