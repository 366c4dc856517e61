use sea_orm::entity::prelude::*;

use crate::{PickupPointId, PickupSlotId};

/// A bookable time slot at a pickup point, with a capacity.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_slots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PickupSlotId,
    pub pickup_point_id: PickupPointId,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub capacity: i32,
    /// Raised only by a guarded update (`booked < capacity`).
    pub booked: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
