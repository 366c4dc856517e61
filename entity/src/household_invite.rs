use sea_orm::entity::prelude::*;

use crate::{CommunityId, HouseholdId, InviteId, UserId};

/// An invitation for a family member to join a household. Only the code's
/// SHA-256 is stored; the code itself is shown once, to the inviter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "household_invites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: InviteId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub code_hash: String,
    pub created_by: UserId,
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
    pub used_by: Option<UserId>,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
