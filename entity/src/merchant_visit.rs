use sea_orm::entity::prelude::*;

use crate::{CommunityId, MerchantId, MerchantVisitId, UserId};

/// A verification visit (扫街): who went, when, what they found.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_visits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MerchantVisitId,
    pub merchant_id: MerchantId,
    pub community_id: CommunityId,
    pub visited_by: UserId,
    pub visited_at: DateTimeUtc,
    pub notes: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
