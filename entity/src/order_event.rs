use sea_orm::entity::prelude::*;

use crate::{ActorRole, OrderEventId, OrderId, OrderStatus, UserId};

/// One move of an order: who, when, from, to, why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OrderEventId,
    pub order_id: OrderId,
    /// `None` for the system (sweepers, cascades).
    pub actor_id: Option<UserId>,
    pub actor_role: ActorRole,
    /// `None` for the submission.
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
