use sea_orm::entity::prelude::*;

use crate::{ActorRole, DisputeAction, DisputeEventId, DisputeId, Fen, UserId};

/// One step of a dispute's history, never changed once written.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dispute_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DisputeEventId,
    pub dispute_id: DisputeId,
    /// Absent for the system (automatic escalation).
    pub actor_id: Option<UserId>,
    pub actor_role: ActorRole,
    pub action: DisputeAction,
    /// The refund asked for, offered or decided at this step.
    pub amount: Option<Fen>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
