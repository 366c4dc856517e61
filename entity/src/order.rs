use sea_orm::entity::prelude::*;

use crate::{
    ClientKind, CommunityId, CourierId, Fen, Fulfilment, GroupBuyId, HouseholdId, MerchantId,
    OrderId, OrderStatus, PaymentMethod, PickupPointId, PickupSlotId, UserId,
};

/// An order: what a household bought, from whom, and where it stands. The
/// amount is the sum of its lines, priced by the server.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OrderId,
    /// For people and for the payment provider (`out_trade_no`).
    pub order_no: String,
    pub community_id: CommunityId,
    /// The seller; `None` when the property sells (its own group buys).
    pub merchant_id: Option<MerchantId>,
    pub group_buy_id: Option<GroupBuyId>,
    /// Who submitted it.
    pub user_id: UserId,
    pub household_id: HouseholdId,
    pub status: OrderStatus,
    pub amount: Fen,
    pub payment_method: Option<PaymentMethod>,
    pub paid_at: Option<DateTimeUtc>,
    pub payment_deadline: DateTimeUtc,
    pub fulfilment: Fulfilment,
    pub pickup_point_id: Option<PickupPointId>,
    /// The pickup slot the resident booked.
    pub pickup_slot_id: Option<PickupSlotId>,
    /// When the resident was last reminded to collect it.
    pub pickup_reminded_at: Option<DateTimeUtc>,
    /// When the resident was reminded of their booked slot.
    pub slot_reminded_at: Option<DateTimeUtc>,
    /// The delivery address (the household's by default).
    pub address: String,
    /// Required when the address is not the household's.
    pub address_remark: Option<String>,
    /// The delivery time the resident asked for.
    pub delivery_time: Option<DateTimeUtc>,
    pub courier_id: Option<CourierId>,
    /// When and by whom the seller last acted on it.
    pub processed_at: Option<DateTimeUtc>,
    pub processed_by: Option<UserId>,
    /// Why it was rejected, cancelled or marked an exception.
    pub status_reason: Option<String>,
    /// A short self-introduction shown to the group buy's other participants.
    pub intro: Option<String>,
    pub client_ip: String,
    pub user_agent: String,
    pub client_kind: ClientKind,
    pub idempotency_key: Option<String>,
    /// Fingerprint of the request that used the key.
    pub request_hash: Option<String>,
    /// Dispatched, delivered or ready for pickup: the auto-confirmation and
    /// reminder clocks start here.
    pub fulfilled_at: Option<DateTimeUtc>,
    pub confirmed_at: Option<DateTimeUtc>,
    /// When a WeChat Pay prepay was made for it.
    pub prepaid_at: Option<DateTimeUtc>,
    /// When the reconciliation job last asked WeChat Pay about it.
    pub pay_checked_at: Option<DateTimeUtc>,
    /// When it was closed at WeChat Pay (no later payment can arrive).
    pub pay_closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
