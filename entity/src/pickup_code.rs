use sea_orm::entity::prelude::*;

use crate::{OrderId, PickupCodeId, PickupCodeStatus, PickupPointId, UserId};

/// A code that releases an order at its pickup point: the resident's own,
/// or one for a neighbour they named to collect (代取). Stored encrypted
/// (shown to its holder) and as a keyed hash (what staff look up).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pickup_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PickupCodeId,
    pub order_id: OrderId,
    pub pickup_point_id: PickupPointId,
    /// Who may show it.
    pub holder_id: UserId,
    /// A collector's code (代取), not the resident's own.
    pub delegated: bool,
    pub code_hash: String,
    pub code_enc: String,
    pub status: PickupCodeStatus,
    pub used_at: Option<DateTimeUtc>,
    /// The staff member who verified it.
    pub used_by: Option<UserId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
