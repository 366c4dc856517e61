use sea_orm::entity::prelude::*;

use crate::{PickupNoteId, PickupPointId, UserId};

/// A short note on a pickup point's message board (留言板).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_notes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PickupNoteId,
    pub pickup_point_id: PickupPointId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: DateTimeUtc,
    /// Removed by staff: kept for the record, no longer shown.
    pub removed_at: Option<DateTimeUtc>,
    pub removed_by: Option<UserId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
