use sea_orm::entity::prelude::*;

use crate::{Fen, GroupBuyItemId, OrderId, OrderLineId, ProductId};

/// A snapshot of one line as bought: later edits to the product do not
/// change it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OrderLineId,
    pub order_id: OrderId,
    pub product_id: Option<ProductId>,
    pub group_buy_item_id: Option<GroupBuyItemId>,
    pub title: String,
    pub unit: String,
    pub unit_price: Fen,
    pub quantity: i32,
    pub amount: Fen,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
