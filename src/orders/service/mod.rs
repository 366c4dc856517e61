//! The orders' rules: submitting ([`mod@submit`], with the resident's side
//! in [`receiving`]), reading ([`read`]), and moving an order through its
//! state machine (here).
//!
//! - [`advance`] is the only way an order changes status: it checks
//!   [`OrderStatus::may_become`], applies the move with `db::transition`
//!   (only while the order is still in the status it was read in), logs it,
//!   releases stock when the move lets go of it, and queues the resident's
//!   notification. A move that lets go of paid money is the orders flow's
//!   (`flows/orders.rs`): it refunds too.
//! - The checks a resident's or a seller's move needs before it is made
//!   (`ensure_cancellable`, `check_seller_move`, …) are here; the handlers
//!   make the move through the orders flow.
//! - Payments are applied by the payments flow (`flows/payments.rs`).

use chrono::{DateTime, Utc};
use entity::{
    ActorRole, CourierId, Fulfilment, GroupBuyId, OrderEventId, OrderId, OrderStatus,
    PaymentMethod, UserId, group_buy, order, order_event, order_line,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::views::SellerMove;

pub mod read;
pub mod receiving;
pub mod submit;

pub use read::{
    Whose, detail, list, merchant_order, one_order, own_order, property_order, visible_order,
    with_lines,
};
pub use receiving::{Reception, ordering_household, require_resident, resolve_receiving};
pub use submit::{
    CatalogOrder, ClientInfo, Idempotency, LineSpec, NewOrder, Submitted, submit, submit_catalog,
};

/// Who moves an order, in what capacity.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user: Option<UserId>,
    pub role: ActorRole,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        user: None,
        role: ActorRole::System,
    };

    pub fn resident(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Resident,
        }
    }

    pub fn merchant(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Merchant,
        }
    }

    pub fn staff(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Staff,
        }
    }

    /// Whether this actor sells (merchant staff, or property staff for the
    /// property's own group buys): their moves stamp `processed_at/by`.
    fn is_seller(&self) -> bool {
        matches!(self.role, ActorRole::Merchant | ActorRole::Staff)
    }
}

/// Appends one entry to an order's event log.
pub async fn log_event<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
    actor: Actor,
    from: Option<OrderStatus>,
    to: OrderStatus,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    order_event::Entity::insert(order_event::ActiveModel {
        id: Set(OrderEventId::new()),
        order_id: Set(order),
        actor_id: Set(actor.user),
        actor_role: Set(actor.role),
        from_status: Set(from),
        to_status: Set(to),
        reason: Set(reason.map(|r| r.chars().take(200).collect())),
        created_at: Set(at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Extra columns a move sets besides the status.
#[derive(Default, Debug)]
pub struct MoveDetails {
    pub reason: Option<String>,
    pub courier_id: Option<CourierId>,
    pub payment_method: Option<PaymentMethod>,
    /// When the provider took the money (with a move to `paid`; now when
    /// absent).
    pub paid_at: Option<DateTime<Utc>>,
    /// Where a refund this move causes goes.
    pub refund_to: entity::RefundTo,
}

/// Moves `order` to `to` on behalf of `actor`: the conditional update, the
/// event, the stock it lets go of, the resident's message. Runs in the
/// caller's transaction. Returns the order as it now is.
///
/// A move that lets go of paid money (to `rejected`, `cancelled`,
/// `refunded`, …) is refused here: the orders flow makes it, so that the
/// refund and the end of any dispute happen with it.
pub async fn advance<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    to: OrderStatus,
    actor: Actor,
    details: MoveDetails,
) -> ApiResult<order::Model> {
    if order.status.may_become(to) && order.status.is_paid() && !to.is_paid() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "order {} moves from {} to {to}, letting go of its money, outside the orders flow",
            order.id,
            order.status
        )));
    }
    let next = move_order(db, order, to, actor, &details).await?;
    announce(db, settings, order, to, &details).await?;
    Ok(next)
}

/// The move itself, without the resident's message ([`announce`]): the
/// orders flow refunds in between when the move lets go of paid money.
pub async fn move_order<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    to: OrderStatus,
    actor: Actor,
    details: &MoveDetails,
) -> ApiResult<order::Model> {
    let from = order.status;
    let now = clock::now();
    let mut next = order.clone();
    next.status = to;
    next.updated_at = now;
    if actor.is_seller() {
        next.processed_at = Some(now);
        next.processed_by = actor.user;
    }
    if let Some(reason) = &details.reason {
        next.status_reason = Some(reason.clone());
    }
    if let Some(courier) = details.courier_id {
        next.courier_id = Some(courier);
    }
    match to {
        OrderStatus::Paid => {
            next.paid_at = Some(details.paid_at.unwrap_or(now));
            next.payment_method = details.payment_method;
        }
        OrderStatus::Dispatched | OrderStatus::Delivered | OrderStatus::ReadyForPickup => {
            next.fulfilled_at = Some(now)
        }
        OrderStatus::Completed => next.confirmed_at = Some(now),
        _ => {}
    }
    // Every column is written (`reset_all`): the row is exactly `next`
    // (but for the payment reconciliation's own columns).
    let mut changes = order::ActiveModel::from(next.clone()).reset_all();
    changes.id = NotSet;
    // The reconciliation job's columns move on their own.
    changes.prepaid_at = NotSet;
    changes.pay_checked_at = NotSet;
    changes.pay_closed_at = NotSet;
    // Only the move to `paid` records the payment: another move must not
    // write back a payment recorded meanwhile (a late one being refunded).
    if to != OrderStatus::Paid {
        changes.paid_at = NotSet;
        changes.payment_method = NotSet;
    }
    // The status is the transition's to set, only while it is `from`.
    changes.status = NotSet;
    db::transition(
        db,
        order::Entity::update_many()
            .set(changes)
            .filter(order::Column::Id.eq(order.id)),
        order::Column::Status,
        from,
        to,
    )
    .await?;
    log_event(
        db,
        order.id,
        actor,
        Some(from),
        to,
        details.reason.as_deref(),
        now,
    )
    .await?;
    crate::settlement::service::order_moved(db, &next, from).await?;
    // Goods that left the seller (a dispute refunding a delivered order)
    // do not go back on the shelf.
    if from.holds_stock() && !to.holds_stock() && order.fulfilled_at.is_none() {
        release_stock(db, order).await?;
    }
    Ok(next)
}

/// Queues the resident's message about a move made.
pub async fn announce<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    to: OrderStatus,
    details: &MoveDetails,
) -> ApiResult<()> {
    let message = match to {
        OrderStatus::Paid => Some(("order_paid", vec![("amount", order.amount.yuan())])),
        OrderStatus::Accepted => Some(("order_accepted", vec![])),
        OrderStatus::Rejected => Some((
            "order_rejected",
            vec![("reason", details.reason.clone().unwrap_or_default())],
        )),
        OrderStatus::Dispatched => Some(("delivery_update", vec![("status", "已发货".to_owned())])),
        OrderStatus::Delivered => Some(("delivery_update", vec![("status", "已送达".to_owned())])),
        _ => None,
    };
    if let Some((kind, mut params)) = message {
        params.push(("order_no", order.order_no.clone()));
        crate::outbox::service::notify(db, settings, order.user_id, kind, &params).await?;
    }
    Ok(())
}

/// Gives back what a live order held: group-buy stock and quota, or the
/// product's stock.
async fn release_stock<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<()> {
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order.id))
        .all(db)
        .await?;
    for line in lines {
        let quantity = i64::from(line.quantity);
        if let Some(item) = line.group_buy_item_id {
            db::execute(
                db,
                "UPDATE group_buy_items SET stock = stock + $1 WHERE id = $2",
                [quantity.into(), item.as_uuid().into()],
            )
            .await?;
            db::execute(
                db,
                "UPDATE group_buy_quotas SET quantity = quantity - $1 \
                 WHERE item_id = $2 AND household_id = $3 AND quantity >= $1",
                [
                    quantity.into(),
                    item.as_uuid().into(),
                    order.household_id.as_uuid().into(),
                ],
            )
            .await?;
        } else if let Some(product) = line.product_id {
            db::execute(
                db,
                "UPDATE products SET stock = stock + $1 WHERE id = $2 AND stock IS NOT NULL",
                [quantity.into(), product.as_uuid().into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// The statuses in which money is held, for SQL `IN (…)` lists.
pub fn paid_statuses() -> Vec<&'static str> {
    OrderStatus::PAID.iter().map(|s| s.as_str()).collect()
}

/// Distinct households holding a paid order in the group buy (成团人数).
pub async fn paying_households<C: ConnectionTrait>(db: &C, group: GroupBuyId) -> ApiResult<i64> {
    let placeholders: Vec<String> = (0..OrderStatus::PAID.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let mut values: Vec<sea_orm::Value> = vec![group.as_uuid().into()];
    values.extend(paid_statuses().into_iter().map(Into::into));
    let row = db::query_one(
        db,
        &format!(
            "SELECT COUNT(DISTINCT household_id) AS n FROM orders \
             WHERE group_buy_id = $1 AND status IN ({})",
            placeholders.join(", ")
        ),
        values,
    )
    .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Refuses a payment before any provider is asked when the order's group
/// buy no longer takes orders (paused, closed, failed…) or its merchant may
/// not sell in the community now. The payments flow checks both again when the
/// money arrives.
pub async fn ensure_payable<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<()> {
    if let Some(merchant) = order.merchant_id {
        crate::merchant::service::ensure_selling(db, merchant, order.community_id).await?;
    }
    if let Some(g) = order.group_buy_id {
        let group = group_buy::Entity::find_by_id(g)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if !group.status.takes_orders() {
            return Err(ApiError::new(
                ErrorCode::GroupBuyNotOpen,
                format!("the group buy is {}", group.status),
            ));
        }
    }
    Ok(())
}

/// Refuses a courier who may not carry `order`: only the seller's own
/// couriers (the merchant's, or for the property's own sales the
/// community's property couriers), active and with a pass valid now. Another
/// seller's courier is refused exactly like an unknown one.
pub async fn ensure_courier_may_carry<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    courier: CourierId,
) -> ApiResult<()> {
    let found = entity::courier::Entity::find_by_id(courier)
        .one(db)
        .await?
        .filter(|c| match order.merchant_id {
            Some(m) => {
                c.employer_kind == entity::EmployerKind::Merchant && c.merchant_id == Some(m)
            }
            None => {
                c.employer_kind == entity::EmployerKind::Property
                    && c.community_id == Some(order.community_id)
            }
        })
        .ok_or_else(|| ApiError::invalid_field("courier_id", "not one of your couriers"))?;
    if !found.may_pass(clock::now()) {
        return Err(ApiError::new(
            ErrorCode::CourierUnavailable,
            "this courier is suspended or their pass has expired; renew it or choose another",
        )
        .with_details(serde_json::json!({
            "courier_id": courier,
            "status": found.status,
            "pass_valid_until": found.pass_valid_until,
        })));
    }
    Ok(())
}

/// Why a payment the payments flow refused cannot be kept, for the refusals
/// that mean the order no longer takes money (`None` for any other error).
/// A provider that already took the money gives it straight back
/// (the payments flow's late payment); an `invalid_transition` may also be
/// another copy of the notification that applied it just now.
pub fn refused_payment(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::InvalidTransition => Some("paid after the order had closed; refunded"),
        ErrorCode::PaymentDeadlinePassed => Some("paid after the payment deadline; refunded"),
        ErrorCode::GroupBuyNotOpen => Some("the group buy no longer takes orders; refunded"),
        ErrorCode::MerchantNotSelling => Some("the merchant may not sell here now; refunded"),
        _ => None,
    }
}

/// Orders of a group buy in one of `statuses`, oldest first (for cascades).
pub async fn orders_of_group<C: ConnectionTrait>(
    db: &C,
    group: GroupBuyId,
    statuses: &[OrderStatus],
    limit: Option<u64>,
) -> ApiResult<Vec<order::Model>> {
    let mut select = order::Entity::find()
        .filter(order::Column::GroupBuyId.eq(group))
        .filter(order::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(order::Column::Id);
    if let Some(n) = limit {
        select = select.limit(n);
    }
    Ok(select.all(db).await?)
}

/// Refuses a resident's cancellation of a paid group-buy order once the
/// group has succeeded (it may be cancelled until then, also while the
/// group is paused if it had not succeeded before). Read in the move's
/// transaction.
pub async fn ensure_cancellable<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<()> {
    if order.status == OrderStatus::Paid
        && let Some(g) = order.group_buy_id
    {
        let group = group_buy::Entity::find_by_id(g)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?;
        let open = group.status == entity::GroupBuyStatus::Open
            || (group.status == entity::GroupBuyStatus::Paused && group.succeeded_at.is_none());
        if !open {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                "the group buy has already succeeded; a paid order can no longer be cancelled",
            ));
        }
    }
    Ok(())
}

/// Only an order on its way or delivered can be confirmed received.
pub fn ensure_confirmable(order: &order::Model) -> ApiResult<()> {
    if !matches!(
        order.status,
        OrderStatus::Dispatched | OrderStatus::Delivered
    ) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "only a dispatched or delivered order can be confirmed (this one is {})",
                order.status
            ),
        ));
    }
    Ok(())
}

/// Refuses a seller's move this order does not allow: a move that does not
/// fit how it is received, a refund of an order not marked an exception,
/// accepting a group-buy order on its own (they are accepted together when
/// the group buy starts fulfilling), or a courier who may not carry it.
pub async fn check_seller_move<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    change: &SellerMove,
) -> ApiResult<()> {
    use OrderStatus::*;
    match (change.to, order.fulfilment) {
        (Dispatched | Delivered, Fulfilment::Pickup) => {
            return Err(ApiError::invalid_field(
                "status",
                "this order is collected at a pickup point",
            ));
        }
        (ReadyForPickup, Fulfilment::Delivery) => {
            return Err(ApiError::invalid_field(
                "status",
                "this order is delivered to the door",
            ));
        }
        _ => {}
    }
    if change.to == Refunded && order.status != Exception {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "sellers refund only orders marked as an exception (reject a paid order instead)",
        ));
    }
    if order.group_buy_id.is_some() && change.to == Accepted {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "group-buy orders are accepted together when the group buy starts fulfilling",
        ));
    }
    if let Some(courier) = change.courier_id {
        ensure_courier_may_carry(db, order, courier).await?;
    }
    Ok(())
}
