use sea_orm::entity::prelude::*;

use crate::{GroupBuyId, PickupPointId};

/// A pickup point a group buy delivers to.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "group_buy_pickup_points")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_buy_id: GroupBuyId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub pickup_point_id: PickupPointId,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
