use sea_orm::entity::prelude::*;

use crate::{BuildingId, CommunityId, HouseholdId, UnitId};

/// A household (户): one dwelling at building / unit / room.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "households")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: HouseholdId,
    pub community_id: CommunityId,
    pub building_id: BuildingId,
    pub unit_id: Option<UnitId>,
    pub room: String,
    /// `building/unit-or-"-"/room`: unique within the community.
    pub address_key: String,
    /// Floor area in hundredths of a square metre (for property fees).
    pub area_centi_m2: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
