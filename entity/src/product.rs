use sea_orm::entity::prelude::*;

use crate::{CategoryId, Fen, MerchantId, ProductId, ProductKind};

/// A merchant's product or service. Prices are the server's own: orders take
/// them from here, never from the client.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ProductId,
    pub merchant_id: MerchantId,
    pub category_id: CategoryId,
    pub kind: ProductKind,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// 斤, 份, 箱, 次…
    pub unit: String,
    pub price: Fen,
    /// The struck-through price, if any (never below `price`).
    pub original_price: Option<Fen>,
    /// Units left; `None` for services (unlimited).
    pub stock: Option<i64>,
    pub sort_order: i32,
    pub on_shelf: bool,
    /// Which tokenizer version indexed it for search (0: not yet).
    pub search_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
