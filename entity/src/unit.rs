use sea_orm::entity::prelude::*;

use crate::{BuildingId, CommunityId, UnitId};

/// A unit (单元) of a building.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "units")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UnitId,
    pub community_id: CommunityId,
    pub building_id: BuildingId,
    pub name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
