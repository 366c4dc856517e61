use sea_orm::FromJsonQueryResult;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{CommunityId, PickupPointId};

/// When a pickup point is open: periods of a week, in the community's time
/// zone. Checked by the server before it is stored.
#[derive(
    Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult, utoipa::ToSchema,
)]
pub struct OpeningHours(pub Vec<OpeningPeriod>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningPeriod {
    /// ISO weekdays, 1 = Monday … 7 = Sunday.
    pub weekdays: Vec<u8>,
    /// Local opening time, `HH:MM`.
    pub opens: String,
    /// Local closing time, `HH:MM`, after `opens`.
    pub closes: String,
}

/// A pickup point (自提点/取货点).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_points")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PickupPointId,
    pub community_id: CommunityId,
    pub name: String,
    pub location: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub opening_hours: OpeningHours,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
