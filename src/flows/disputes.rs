//! A dispute is resolved (by agreement, or by customer service): the refund
//! it decides goes back by the payment's refund path, keyed by the dispute
//! (so at most once), and the order moves on. Every other move of a dispute
//! is the disputes capability's own; the residents', merchants' and
//! customer service's answers come through here because any of them may
//! resolve it.

use entity::{DisputeStatus, Fen, OrderStatus, UserId, dispute, order};
use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::config::Settings;
use crate::disputes::service::{
    self as disputes, MerchantMove, Move, Outcome, ResidentMove, Said, Step,
};
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{Actor, MoveDetails};
use crate::payment;

use super::orders::advance;

/// Moves `d` to `to` with `step` in the caller's transaction; a resolution
/// also refunds what it decides and moves the order. Returns the dispute as
/// it now is.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    d: &dispute::Model,
    to: DisputeStatus,
    step: Step<'_>,
) -> ApiResult<dispute::Model> {
    if to != DisputeStatus::Resolved {
        return disputes::apply(db, settings, d, to, step).await;
    }
    let actor = step.actor;
    let note = step.note.clone();
    let (next, o) = disputes::move_dispute(db, d, to, step).await?;
    execute(
        db,
        settings,
        &next,
        &o,
        next.refund_amount.unwrap_or(Fen::ZERO),
        actor,
        note,
    )
    .await?;
    disputes::tell(db, settings, &next, &o.order_no).await?;
    Ok(next)
}

/// The resident's answer to their household's dispute `d`, made in one
/// write transaction. Returns the dispute as it now is.
pub async fn reply(
    db: &DatabaseConnection,
    settings: &Settings,
    d: &dispute::Model,
    by: UserId,
    what: ResidentMove,
    said: Said,
) -> ApiResult<dispute::Model> {
    let made = disputes::resident_move(db, d, by, what, said).await?;
    make(db, settings, d, made).await
}

/// The merchant's answer to its dispute `d`, made in one write transaction.
pub async fn answer(
    db: &DatabaseConnection,
    settings: &Settings,
    d: &dispute::Model,
    by: UserId,
    what: MerchantMove,
    said: Said,
) -> ApiResult<dispute::Model> {
    let made = disputes::merchant_move(db, d, by, what, said).await?;
    make(db, settings, d, made).await
}

/// Customer service's decision of the escalated dispute `d`, made in one
/// write transaction.
pub async fn decide(
    db: &DatabaseConnection,
    settings: &Settings,
    d: &dispute::Model,
    by: UserId,
    outcome: Outcome,
    note: String,
) -> ApiResult<dispute::Model> {
    let made = disputes::decision(db, d, by, outcome, note).await?;
    make(db, settings, d, made).await
}

/// Applies a move worked out outside the transaction (its reads made on
/// the pool, as before any write) in one write transaction.
async fn make(
    db: &DatabaseConnection,
    settings: &Settings,
    d: &dispute::Model,
    mut made: Move,
) -> ApiResult<dispute::Model> {
    let txn = begin_write(db).await?;
    let moved = apply(&txn, settings, d, made.to, made.step()).await?;
    txn.commit().await?;
    Ok(moved)
}

/// Carries out a resolution: refunds `refund` (keyed by the dispute, so at
/// most once), then moves the order on. Everything back: the order is
/// refunded. Otherwise an order waiting for the resident's confirmation is
/// completed, and what escrow still holds settles to the merchant at the
/// next cutoff.
async fn execute<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    d: &dispute::Model,
    o: &order::Model,
    refund: Fen,
    actor: Actor,
    note: Option<String>,
) -> ApiResult<()> {
    let held = disputes::held(db, o).await?;
    if refund > held {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "the order holds only {} yuan now; reload the dispute",
                held.yuan()
            ),
        ));
    }
    let why = format!("dispute: {}", d.reason);
    payment::service::refunds::refund_to(
        db,
        settings,
        o,
        refund,
        &why,
        &format!("dispute:{}", d.id),
        d.refund_to,
    )
    .await?;
    let reason = note.unwrap_or_else(|| "dispute resolved".to_owned());
    let to = if refund == held && held > Fen::ZERO {
        Some(OrderStatus::Refunded)
    } else if matches!(
        o.status,
        OrderStatus::Dispatched | OrderStatus::Delivered | OrderStatus::ReadyForPickup
    ) {
        Some(OrderStatus::Completed)
    } else {
        None
    };
    if let Some(to) = to
        && o.status.may_become(to)
    {
        advance(
            db,
            settings,
            o,
            to,
            actor,
            MoveDetails {
                reason: Some(format!("dispute: {reason}")),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}
