use sea_orm::entity::prelude::*;

use crate::{CommunityId, GroupBuyId, GroupBuyStatus, MerchantId, OrganiserKind, UserId};

/// A group buy (社区团购) in one community.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: GroupBuyId,
    pub community_id: CommunityId,
    /// The organising merchant; `None` when the property organises it.
    pub merchant_id: Option<MerchantId>,
    pub organiser_kind: OrganiserKind,
    pub created_by: UserId,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// 成团人数: distinct paying households needed to succeed.
    pub min_households: i32,
    pub starts_at: DateTimeUtc,
    pub deadline: DateTimeUtc,
    pub pickup_starts_at: Option<DateTimeUtc>,
    pub pickup_ends_at: Option<DateTimeUtc>,
    pub door_delivery: bool,
    pub status: GroupBuyStatus,
    /// Why it was cancelled (or failed).
    pub status_reason: Option<String>,
    pub succeeded_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
