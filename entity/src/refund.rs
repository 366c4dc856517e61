use sea_orm::entity::prelude::*;

use crate::{Fen, OrderId, RefundId, RefundStatus};

/// Money going back to a resident for an order. `idempotency_key` names the
/// decision, so replaying a decision never refunds twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RefundId,
    pub order_id: OrderId,
    pub amount: Fen,
    pub reason: String,
    pub idempotency_key: String,
    /// Which payment provider carries it out.
    pub provider: String,
    pub status: RefundStatus,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    /// When reconciliation last asked the provider about it (pending ones).
    pub checked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
