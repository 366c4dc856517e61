use sea_orm::entity::prelude::*;

use crate::{Fen, GroupBuyId, GroupBuyItemId, ProductId};

/// One item of a group buy, with its own group price and stock.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: GroupBuyItemId,
    pub group_buy_id: GroupBuyId,
    /// The catalog product it comes from, if any (property produce has none).
    pub product_id: Option<ProductId>,
    pub title: String,
    pub unit: String,
    /// The group price.
    pub price: Fen,
    pub original_price: Option<Fen>,
    /// Units left: lowered only by a guarded update (`stock >= n`).
    pub stock: i64,
    pub initial_stock: i64,
    /// At most this many units per household.
    pub per_household_limit: Option<i32>,
    pub sort_order: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
