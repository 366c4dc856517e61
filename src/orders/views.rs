//! Orders as the API shows them, and the requests that submit and move
//! them, with their parsing into checked values.

use chrono::{DateTime, Utc};
use entity::{
    ActorRole, ClientKind, CommunityId, CourierId, Fen, Fulfilment, GroupBuyId, GroupBuyItemId,
    HouseholdId, MerchantId, OrderId, OrderStatus, PaymentMethod, PickupPointId, PickupSlotId,
    ProductId, RefundStatus, UserId, order, order_event, order_line, refund,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;

// ---------------------------------------------------------------- orders

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLine {
    pub product_id: Option<ProductId>,
    pub group_buy_item_id: Option<GroupBuyItemId>,
    pub title: String,
    pub unit: String,
    /// Fen, as it was when ordered.
    pub unit_price: Fen,
    pub quantity: i32,
    /// Fen.
    pub amount: Fen,
}

impl From<order_line::Model> for OrderLine {
    fn from(l: order_line::Model) -> Self {
        Self {
            product_id: l.product_id,
            group_buy_item_id: l.group_buy_item_id,
            title: l.title,
            unit: l.unit,
            unit_price: l.unit_price,
            quantity: l.quantity,
            amount: l.amount,
        }
    }
}

/// An order and its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: OrderId,
    /// For people (and the payment provider).
    pub order_no: String,
    pub community_id: CommunityId,
    /// The seller; absent when the property sells.
    pub merchant_id: Option<MerchantId>,
    pub group_buy_id: Option<GroupBuyId>,
    pub household_id: HouseholdId,
    pub submitted_by: UserId,
    pub status: OrderStatus,
    /// Fen: the sum of the lines, priced by the server.
    pub amount: Fen,
    pub payment_method: Option<PaymentMethod>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Unpaid orders let go of their goods at this time.
    pub payment_deadline: DateTime<Utc>,
    pub fulfilment: Fulfilment,
    pub pickup_point_id: Option<PickupPointId>,
    pub pickup_slot_id: Option<PickupSlotId>,
    pub address: String,
    pub address_remark: Option<String>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub courier_id: Option<CourierId>,
    pub processed_at: Option<DateTime<Utc>>,
    pub processed_by: Option<UserId>,
    /// Why it was rejected, cancelled, refunded or marked an exception.
    pub status_reason: Option<String>,
    pub intro: Option<String>,
    pub client_kind: ClientKind,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

impl Order {
    /// The order with its lines (in the order given).
    pub fn new(o: order::Model, lines: Vec<order_line::Model>) -> Self {
        Self {
            id: o.id,
            order_no: o.order_no,
            community_id: o.community_id,
            merchant_id: o.merchant_id,
            group_buy_id: o.group_buy_id,
            household_id: o.household_id,
            submitted_by: o.user_id,
            status: o.status,
            amount: o.amount,
            payment_method: o.payment_method,
            paid_at: o.paid_at,
            payment_deadline: o.payment_deadline,
            fulfilment: o.fulfilment,
            pickup_point_id: o.pickup_point_id,
            pickup_slot_id: o.pickup_slot_id,
            address: o.address,
            address_remark: o.address_remark,
            delivery_time: o.delivery_time,
            courier_id: o.courier_id,
            processed_at: o.processed_at,
            processed_by: o.processed_by,
            status_reason: o.status_reason,
            intro: o.intro,
            client_kind: o.client_kind,
            fulfilled_at: o.fulfilled_at,
            confirmed_at: o.confirmed_at,
            created_at: o.created_at,
            updated_at: o.updated_at,
            lines: lines.into_iter().map(OrderLine::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderEvent {
    /// Absent for the system (timeouts, cascades).
    pub actor_id: Option<UserId>,
    pub actor_role: ActorRole,
    /// Absent for the submission.
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<order_event::Model> for OrderEvent {
    fn from(e: order_event::Model) -> Self {
        Self {
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            from: e.from_status,
            to: e.to_status,
            reason: e.reason,
            at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Refund {
    pub id: entity::RefundId,
    /// Fen.
    pub amount: Fen,
    pub reason: String,
    pub status: RefundStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<refund::Model> for Refund {
    fn from(r: refund::Model) -> Self {
        Self {
            id: r.id,
            amount: r.amount,
            reason: r.reason,
            status: r.status,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

/// Where the order was submitted from (shown to property staff).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub ip: String,
    pub user_agent: String,
    pub kind: ClientKind,
}

/// A pickup code the caller holds for this order.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldCode {
    pub code: String,
    /// A code for collecting on someone's behalf (代取).
    pub delegated: bool,
}

/// An order with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: Order,
    /// Every move, oldest first.
    pub events: Vec<OrderEvent>,
    pub refunds: Vec<Refund>,
    /// The caller's live pickup codes for it.
    pub pickup_codes: Vec<HeldCode>,
    /// Only for property staff and operators.
    pub client: Option<ClientView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub group_buy_id: Option<GroupBuyId>,
    pub merchant_id: Option<MerchantId>,
}

// ---------------------------------------------------------------- submitting

/// How an order is to reach the resident.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiving {
    pub fulfilment: Fulfilment,
    /// For pickup: one of the offered pickup points.
    pub pickup_point_id: Option<PickupPointId>,
    /// For delivery: the address, if not the household's own.
    pub address: Option<String>,
    /// Required with an address other than the household's (at most 200 characters).
    pub address_remark: Option<String>,
    /// For delivery: when the resident would like it.
    pub delivery_time: Option<DateTime<Utc>>,
}

/// The optional self-introduction shown to a group buy's participants.
pub fn parse_intro(intro: Option<&str>) -> ApiResult<Option<String>> {
    match intro.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text::required("intro", v, 100).map(Some),
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductQuantity {
    pub product_id: ProductId,
    /// 1 to 999.
    pub quantity: u32,
}

/// A catalog order from one merchant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogOrder {
    pub merchant_id: MerchantId,
    /// Required when you belong to several households here.
    pub household_id: Option<HouseholdId>,
    /// 1 to 50 lines, each product once.
    pub lines: Vec<ProductQuantity>,
    pub receiving: Receiving,
}

/// A quantity to order: 1 to 999.
pub fn check_quantity(quantity: u32) -> ApiResult<()> {
    if (1..=999).contains(&quantity) {
        Ok(())
    } else {
        Err(ApiError::invalid_field("quantity", "between 1 and 999"))
    }
}

// ---------------------------------------------------------------- paying

/// An order being paid, and what the client does next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paying {
    #[serde(flatten)]
    pub order: Order,
    pub payment: crate::payment::views::PaymentStart,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// `wallet` pays from the household's wallet at once (refused with
    /// `insufficient_balance` when it holds too little); omitted, the
    /// configured provider takes the payment.
    pub method: Option<PayWith>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayWith {
    Wallet,
}

// ---------------------------------------------------------------- moving

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// At most 200 characters.
    pub reason: Option<String>,
    /// Cancelling a paid order: `original` (default) refunds the way it was
    /// paid, `wallet` keeps the money in the household's wallet.
    #[serde(default)]
    pub refund_to: entity::RefundTo,
}

/// A resident's cancellation, checked.
pub struct Cancel {
    pub reason: Option<String>,
    pub refund_to: entity::RefundTo,
}

impl Cancellation {
    pub fn parse(self) -> ApiResult<Cancel> {
        Ok(Cancel {
            reason: self
                .reason
                .map(|r| text::required("reason", &r, 200))
                .transpose()?,
            refund_to: self.refund_to,
        })
    }
}

/// A seller's move of an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderMove {
    /// `accepted`, `rejected` (reason required), `preparing`, `dispatched`
    /// (door delivery), `ready_for_pickup` (pickup), `delivered`,
    /// `exception` (reason required), or `refunded` (from an exception).
    pub status: OrderStatus,
    pub reason: Option<String>,
    /// The courier taking it (with `dispatched`).
    pub courier_id: Option<CourierId>,
}

/// A seller's move, checked on its own: a status sellers may set, with the
/// reason it needs. What the order allows is the service's to check.
pub struct SellerMove {
    pub to: OrderStatus,
    pub reason: Option<String>,
    pub courier_id: Option<CourierId>,
}

impl OrderMove {
    pub fn parse(self) -> ApiResult<SellerMove> {
        use OrderStatus::*;
        if !matches!(
            self.status,
            Accepted
                | Rejected
                | Preparing
                | Dispatched
                | ReadyForPickup
                | Delivered
                | Exception
                | Refunded
        ) {
            return Err(ApiError::invalid_field(
                "status",
                "sellers move orders to accepted, rejected, preparing, dispatched, ready_for_pickup, delivered, exception or refunded",
            ));
        }
        let reason = self
            .reason
            .as_deref()
            .map(|r| text::required("reason", r, 200))
            .transpose()?;
        if matches!(self.status, Rejected | Exception | Refunded) && reason.is_none() {
            return Err(ApiError::invalid_field("reason", "say why"));
        }
        Ok(SellerMove {
            to: self.status,
            reason,
            courier_id: self.courier_id,
        })
    }
}
