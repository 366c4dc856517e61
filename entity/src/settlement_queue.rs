use sea_orm::entity::prelude::*;

use crate::OrderId;

/// A completed order waiting to settle: put here when the order completes,
/// taken out when it settles (see `order_settlement`) or is refunded. The
/// settlement job reads the due ones by `confirmed_at`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_queue")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: OrderId,
    pub confirmed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
