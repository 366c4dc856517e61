//! An order moves: the one door for a move that may let go of paid money.
//! The order's own move (its row, event, stock and message) is the orders
//! capability's; when the move lets go of what the resident paid (rejected,
//! cancelled, refunded, …), what escrow still holds goes back by the
//! payment's refund path, and a live dispute of the order has nothing left
//! to decide.

use entity::{Fen, OrderStatus, order};
use sea_orm::ConnectionTrait;

use crate::config::Settings;
use crate::kernel::error::{ApiError, ApiResult};
use crate::orders::service::{self as orders, Actor, MoveDetails};
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
