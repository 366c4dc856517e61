use sea_orm::entity::prelude::*;

use crate::{CommunityId, Fen, JournalEntryId, MerchantId, OrderId};

/// A settled order: when its escrow went to the merchant (the settlement
/// job), for how much, what the property kept as commission, and the
/// ledger entry that moved it (one entry per batch, community and
/// merchant, with a line per order). One row per order; the merchant's daily
/// statement reads these.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_settlements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: OrderId,
    /// The batch's ledger entry (absent when nothing was held: a free
    /// order).
    pub entry_id: Option<JournalEntryId>,
    pub community_id: CommunityId,
    /// Absent for the property's own sales (all of it is the property's).
    pub merchant_id: Option<MerchantId>,
    /// What escrow held for the order when it settled.
    pub gross: Fen,
    /// The property's share of `gross`; the merchant got the rest.
    pub commission: Fen,
    pub settled_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
