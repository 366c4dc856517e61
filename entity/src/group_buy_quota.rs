use sea_orm::entity::prelude::*;

use crate::{GroupBuyItemId, HouseholdId};

/// Units of an item a household's live orders hold (for the per-household
/// limit).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_quotas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: GroupBuyItemId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub household_id: HouseholdId,
    pub quantity: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
