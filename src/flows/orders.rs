//! An order moves: the one door for a move that may let go of paid money.
//! The order's own move (its row, event, stock and message) is the orders
//! capability's; when the move lets go of what the resident paid (rejected,
//! cancelled, refunded, …), what escrow still holds goes back by the
//! payment's refund path, and a live dispute of the order has nothing left
//! to decide.
//!
//! The moves residents and sellers ask for ([`cancel`], [`confirm`],
//! [`seller_move`]) each run in one transaction of their own.

use entity::{Fen, OrderStatus, UserId, order};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::config::Settings;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult};
use crate::orders::service::{self as orders, Actor, MoveDetails};
use crate::orders::views::{Cancel, SellerMove};
use crate::pii::PiiCipher;
use crate::{disputes, ledger, payment};

/// Moves `order` to `to` on behalf of `actor`, in the caller's transaction,
/// refunding what it still holds when the move lets go of paid money.
/// Returns the order as it now is.
pub async fn advance<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    to: OrderStatus,
    actor: Actor,
    details: MoveDetails,
) -> ApiResult<order::Model> {
    let lets_go_of_money = order.status.is_paid() && !to.is_paid();
    if !lets_go_of_money {
        return orders::advance(db, settings, order, to, actor, details).await;
    }
    let next = orders::move_order(db, order, to, actor, &details).await?;
    let why = details
        .reason
        .clone()
        .unwrap_or_else(|| format!("order {to}"));
    // What escrow still holds for it: all of it, less what a dispute
    // already refunded.
    let held = ledger::escrow_of(db, order.community_id, order.id).await?;
    let rest = Fen::new(held.as_i64().clamp(0, order.amount.as_i64())).map_err(|e| {
        ApiError::internal(anyhow::anyhow!(
            "order {} holds {held} fen in escrow: {e}",
            order.id
        ))
    })?;
    payment::service::refunds::refund_to(
        db,
        settings,
        order,
        rest,
        &why,
        &format!("order:{}:full", order.id),
        details.refund_to,
    )
    .await?;
    // A dispute of it has nothing left to decide.
    disputes::service::order_refunded(db, &next, actor, rest).await?;
    orders::announce(db, settings, order, to, &details).await?;
    Ok(next)
}

/// The resident cancels their order: before payment, or after it while the
/// order (or its group buy) allows; a paid order is refunded.
pub async fn cancel(
    db: &DatabaseConnection,
    settings: &Settings,
    order: &order::Model,
    cancel: Cancel,
    by: UserId,
) -> ApiResult<order::Model> {
    let txn = begin_write(db).await?;
    orders::ensure_cancellable(&txn, order).await?;
    let moved = advance(
        &txn,
        settings,
        order,
        OrderStatus::Cancelled,
        Actor::resident(by),
        MoveDetails {
            reason: cancel.reason,
            refund_to: cancel.refund_to,
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(moved)
}

/// The resident confirms receipt of a dispatched or delivered order.
pub async fn confirm(
    db: &DatabaseConnection,
    settings: &Settings,
    order: &order::Model,
    by: UserId,
) -> ApiResult<order::Model> {
    orders::ensure_confirmable(order)?;
    let txn = begin_write(db).await?;
    let moved = advance(
        &txn,
        settings,
        order,
        OrderStatus::Completed,
        Actor::resident(by),
        MoveDetails::default(),
    )
    .await?;
    txn.commit().await?;
    Ok(moved)
}

/// A seller's move (merchant staff, or property staff for the property's
/// own group buys); an order now at its pickup point gets its pickup code.
pub async fn seller_move(
    db: &DatabaseConnection,
    settings: &Settings,
    pii: &PiiCipher,
    order: &order::Model,
    change: SellerMove,
    actor: Actor,
) -> ApiResult<order::Model> {
    orders::check_seller_move(db, order, &change).await?;
    let txn = begin_write(db).await?;
    let moved = advance(
        &txn,
        settings,
        order,
        change.to,
        actor,
        MoveDetails {
            reason: change.reason,
            courier_id: change.courier_id,
            ..Default::default()
        },
    )
    .await?;
    if moved.status == OrderStatus::ReadyForPickup {
        crate::pickup::service::order_ready(&txn, settings, pii, &moved).await?;
    }
    txn.commit().await?;
    Ok(moved)
}
