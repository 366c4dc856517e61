use sea_orm::entity::prelude::*;

use crate::{
    CommunityId, DisputeId, DisputeStatus, Fen, HouseholdId, MerchantId, OrderId, RefundTo, UserId,
};

/// A resident's dispute of an order (one per order). The order's money
/// stays in escrow while it is live.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "disputes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DisputeId,
    pub community_id: CommunityId,
    pub order_id: OrderId,
    /// The seller; absent when the property sells (it then goes straight to
    /// customer service).
    pub merchant_id: Option<MerchantId>,
    pub household_id: HouseholdId,
    pub opened_by: UserId,
    pub status: DisputeStatus,
    pub reason: String,
    /// What the resident asks back.
    pub requested_refund: Fen,
    /// Where a refund goes.
    pub refund_to: RefundTo,
    /// The merchant's offer, while one stands.
    pub proposed_refund: Option<Fen>,
    /// What was refunded in the end (set when resolved).
    pub refund_amount: Option<Fen>,
    pub escalated_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
