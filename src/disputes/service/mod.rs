//! The rules of disputes: opening one, each side's moves, customer
//! service's decision, the automatic escalation, and the messages to both
//! sides. Every move is [`DisputeStatus::may_become`] applied with
//! `db::transition` (`WHERE status = <from>`) and an entry in
//! `dispute_events`, which keep the whole history. A resolution moves money
//! and the order: `crate::flows::disputes` makes it. The answers' rules are
//! in [`answers`], what the API reads in [`reads`].

use chrono::{DateTime, Duration, Utc};
use entity::{
    DisputeAction, DisputeEventId, DisputeId, DisputePhotoId, DisputeStatus, Fen, FileId,
    MerchantRole, OrderStatus, RefundTo, UserId, dispute, dispute_event, dispute_photo,
    merchant_staff, order,
};
use sea_orm::ActiveValue::NotSet;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};

pub mod answers;
pub mod reads;

pub use answers::{
    MerchantMove, Move, Outcome, ResidentMove, Said, decision, merchant_move, resident_move,
};
pub use reads::{Detail, Whose, detail, list, of_merchant, visible};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write, claim_ids, is_unique_violation};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::Actor;

/// Statuses of an order a resident may dispute: the merchant has taken it
/// (before that, the resident cancels instead) and its money is still held.
fn disputable(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Accepted
            | OrderStatus::Preparing
            | OrderStatus::Dispatched
            | OrderStatus::ReadyForPickup
            | OrderStatus::Delivered
            | OrderStatus::Exception
            | OrderStatus::Completed
    )
}

/// What escrow holds for the order now.
pub(crate) async fn held<C: ConnectionTrait>(db: &C, o: &order::Model) -> ApiResult<Fen> {
    let raw = crate::ledger::escrow_of(db, o.community_id, o.id).await?;
    crate::kernel::money::fen(raw.max(entity::Balance::ZERO), "an order's escrow")
}

/// One step of a dispute, as the history records it.
pub struct Step<'a> {
    pub action: DisputeAction,
    pub actor: Actor,
    /// The refund asked for, offered or decided.
    pub amount: Option<Fen>,
    pub note: Option<String>,
    /// Photos (already checked to be the actor's own images).
    pub photos: &'a [FileId],
}

/// What a resident opens a dispute with, checked.
pub struct Opening {
    pub reason: String,
    /// `None`: everything escrow holds for the order.
    pub refund: Option<Fen>,
    pub refund_to: RefundTo,
    /// At most 9, each once; that they are the resident's own images is
    /// checked on opening.
    pub photos: Vec<FileId>,
}

/// Opens a dispute of `order_id` for `by` (a member of its household).
pub async fn open(
    db: &DatabaseConnection,
    settings: &Settings,
    order_id: entity::OrderId,
    by: UserId,
    opening: Opening,
) -> ApiResult<dispute::Model> {
    answers::own_photos(db, by, &opening.photos).await?;
    let now = clock::now();
    let txn = begin_write(db).await?;
    // The order's row is held until the commit, so the settlement job cannot
    // settle it while the dispute is written (it skips locked rows, then
    // skips disputed ones).
    let o = order::Entity::find_by_id(order_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if o.status == OrderStatus::Paid {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the merchant has not taken this order yet: cancel it instead (it is refunded at once)",
        ));
    }
    if !disputable(o.status) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("an order that is {} cannot be disputed", o.status),
        ));
    }
    let window = Duration::days(i64::from(settings.payment.dispute_window_days));
    if o.fulfilled_at.is_some_and(|f| now > f + window)
        || crate::settlement::service::is_settled(&txn, o.id).await?
    {
        return Err(ApiError::new(
            ErrorCode::DisputeWindowClosed,
            format!(
                "orders can be disputed for {} days after they are fulfilled, until they settle to the merchant; ask the property's customer service",
                settings.payment.dispute_window_days
            ),
        ));
    }
    if dispute::Entity::find()
        .filter(dispute::Column::OrderId.eq(o.id))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(exists());
    }
    let held = held(&txn, &o).await?;
    let requested = opening.refund.unwrap_or(held);
    if requested == Fen::ZERO || requested > held {
        return Err(ApiError::invalid_field(
            "refund",
            format!(
                "between 0.01 and {} yuan (what the order holds)",
                held.yuan()
            ),
        ));
    }
    // The property sells its own group buys: nobody to negotiate with, so
    // customer service take it at once.
    let status = if o.merchant_id.is_some() {
        DisputeStatus::Open
    } else {
        DisputeStatus::Escalated
    };
    let d = dispute::Model {
        id: DisputeId::new(),
        community_id: o.community_id,
        order_id: o.id,
        merchant_id: o.merchant_id,
        household_id: o.household_id,
        opened_by: by,
        status,
        reason: opening.reason.clone(),
        requested_refund: requested,
        refund_to: opening.refund_to,
        proposed_refund: None,
        refund_amount: None,
        escalated_at: (status == DisputeStatus::Escalated).then_some(now),
        resolved_at: None,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = dispute::Entity::insert(dispute::ActiveModel::from(d.clone()))
        .exec_without_returning(&txn)
        .await
    {
        txn.rollback().await?;
        return Err(if is_unique_violation(&e) {
            exists()
        } else {
            e.into()
        });
    }
    record(
        &txn,
        &d,
        Step {
            action: DisputeAction::Opened,
            actor: Actor::resident(by),
            amount: Some(requested),
            note: Some(opening.reason),
            photos: &opening.photos,
        },
        now,
    )
    .await?;
    if status == DisputeStatus::Escalated {
        record(
            &txn,
            &d,
            Step {
                action: DisputeAction::Escalated,
                actor: Actor::SYSTEM,
                amount: None,
                note: Some("the property sells this order: customer service decide".to_owned()),
                photos: &[],
            },
            now,
        )
        .await?;
    }
    tell(&txn, settings, &d, &o.order_no).await?;
    txn.commit().await?;
    Ok(d)
}

fn exists() -> ApiError {
    ApiError::new(
        ErrorCode::DisputeExists,
        "this order already has a dispute; follow it up there",
    )
}

/// Writes one step of the history, with its photos.
async fn record<C: ConnectionTrait>(
    db: &C,
    d: &dispute::Model,
    step: Step<'_>,
    at: DateTime<Utc>,
) -> ApiResult<()> {
    let event = DisputeEventId::new();
    dispute_event::Entity::insert(dispute_event::ActiveModel {
        id: Set(event),
        dispute_id: Set(d.id),
        actor_id: Set(step.actor.user),
        actor_role: Set(step.actor.role),
        action: Set(step.action),
        amount: Set(step.amount),
        note: Set(step.note),
        created_at: Set(at),
    })
    .exec_without_returning(db)
    .await?;
    if !step.photos.is_empty() {
        dispute_photo::Entity::insert_many(step.photos.iter().map(|f| {
            dispute_photo::ActiveModel {
                id: Set(DisputePhotoId::new()),
                dispute_id: Set(d.id),
                event_id: Set(event),
                file_id: Set(*f),
                created_at: Set(at),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Moves `d` to `to` with `step` in the caller's transaction: the
/// conditional update, the history, and the message to both sides. Returns
/// the dispute as it now is. A resolution moves money and the order: the
/// disputes flow makes it.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    d: &dispute::Model,
    to: DisputeStatus,
    step: Step<'_>,
) -> ApiResult<dispute::Model> {
    if to == DisputeStatus::Resolved {
        return Err(ApiError::internal(anyhow::anyhow!(
            "dispute {} resolved outside the disputes flow",
            d.id
        )));
    }
    let (next, o) = move_dispute(db, d, to, step).await?;
    tell(db, settings, &next, &o.order_no).await?;
    Ok(next)
}

/// The dispute's move and its history, without the message: the
/// conditional update, the step recorded. Returns the dispute as it now is
/// and its order (locked first when resolving, in the same order an order's
/// move takes its locks: order, then dispute, so the two never deadlock).
pub async fn move_dispute<C: ConnectionTrait>(
    db: &C,
    d: &dispute::Model,
    to: DisputeStatus,
    step: Step<'_>,
) -> ApiResult<(dispute::Model, order::Model)> {
    let from = d.status;
    // A move the machine refuses is refused by `db::transition` below,
    // before anything is written (the order's lock ends with the caller's
    // transaction).
    let locked = if to == DisputeStatus::Resolved {
        Some(
            order::Entity::find_by_id(d.order_id)
                .lock_exclusive()
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)?,
        )
    } else {
        None
    };
    let now = clock::now();
    let mut next = d.clone();
    next.status = to;
    next.updated_at = now;
    match to {
        DisputeStatus::Proposed => next.proposed_refund = step.amount,
        DisputeStatus::Escalated => next.escalated_at = Some(now),
        DisputeStatus::Resolved => {
            next.refund_amount = Some(step.amount.unwrap_or(Fen::ZERO));
            next.resolved_at = Some(now);
        }
        DisputeStatus::Withdrawn => next.resolved_at = Some(now),
        DisputeStatus::Open | DisputeStatus::MerchantRejected => {}
    }
    let mut changes = dispute::ActiveModel::from(next.clone()).reset_all();
    changes.id = NotSet;
    // The move sets the status itself, guarded by the one read.
    changes.status = NotSet;
    db::transition(
        db,
        dispute::Entity::update_many()
            .set(changes)
            .filter(dispute::Column::Id.eq(d.id)),
        dispute::Column::Status,
        from,
        to,
    )
    .await?;
    record(db, &next, step, now).await?;
    let o = match locked {
        Some(o) => o,
        None => order::Entity::find_by_id(d.order_id)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?,
    };
    Ok((next, o))
}

/// Ends a live dispute of an order whose money went back by another path
/// (the merchant refunded an exception, a group buy was cancelled): there is
/// nothing left to decide. Called by the orders flow.
pub async fn order_refunded<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    actor: Actor,
    refunded: Fen,
) -> ApiResult<()> {
    let Some(d) = dispute::Entity::find()
        .filter(dispute::Column::OrderId.eq(order.id))
        .filter(dispute::Column::Status.is_in(DisputeStatus::LIVE))
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let now = clock::now();
    // Any live dispute ends here, a refused one too (the money is back):
    // not a move the parties make, so guarded by the status read rather
    // than the machine's moves. One that moved meanwhile is left as it is.
    let moved = db::guarded(
        db,
        dispute::Entity::update_many()
            .col_expr(
                dispute::Column::Status,
                Expr::value(DisputeStatus::Resolved),
            )
            .col_expr(dispute::Column::RefundAmount, Expr::value(refunded))
            .col_expr(dispute::Column::ResolvedAt, Expr::value(now))
            .col_expr(dispute::Column::UpdatedAt, Expr::value(now))
            .filter(dispute::Column::Id.eq(d.id))
            .filter(dispute::Column::Status.eq(d.status)),
        ApiError::new(
            ErrorCode::InvalidTransition,
            "the dispute changed meanwhile",
        ),
    )
    .await;
    let moved = match moved {
        Ok(()) => true,
        Err(e) if e.code == ErrorCode::InvalidTransition => false,
        Err(e) => return Err(e),
    };
    if moved {
        record(
            db,
            &d,
            Step {
                action: DisputeAction::Decided,
                actor,
                amount: Some(refunded),
                note: Some(format!("the order was {}", order.status)),
                photos: &[],
            },
            now,
        )
        .await?;
    }
    Ok(())
}

/// Escalates live disputes the two sides have left alone for
/// `payment.dispute_escalation_days` since their last step (a fresh offer
/// gives the resident that long to answer). Returns how many moved.
pub async fn escalate_due(
    db: &DatabaseConnection,
    settings: &Settings,
    now: DateTime<Utc>,
    batch: u32,
) -> ApiResult<usize> {
    let before = now - Duration::days(i64::from(settings.payment.dispute_escalation_days));
    let txn = begin_write(db).await?;
    let ids: Vec<DisputeId> = claim_ids(
        &txn,
        "SELECT id FROM disputes WHERE status IN ('open', 'proposed', 'merchant_rejected') \
         AND updated_at < $1 ORDER BY updated_at LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
    )
    .await?;
    let mut moved = 0;
    for id in ids {
        let Some(d) = dispute::Entity::find_by_id(id).one(&txn).await? else {
            continue;
        };
        if !d.status.may_become(DisputeStatus::Escalated) {
            continue;
        }
        apply(
            &txn,
            settings,
            &d,
            DisputeStatus::Escalated,
            Step {
                action: DisputeAction::Escalated,
                actor: Actor::SYSTEM,
                amount: None,
                note: Some(format!(
                    "not settled between resident and merchant within {} days",
                    settings.payment.dispute_escalation_days
                )),
                photos: &[],
            },
        )
        .await?;
        moved += 1;
    }
    txn.commit().await?;
    Ok(moved)
}

/// Tells the resident who opened it, and the merchant's owners, where the
/// dispute stands now.
pub async fn tell<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    d: &dispute::Model,
    order_no: &str,
) -> ApiResult<()> {
    let status = match d.status {
        DisputeStatus::Open => "等待商家处理".to_owned(),
        DisputeStatus::Proposed => format!(
            "商家提出退款 {} 元",
            d.proposed_refund.unwrap_or(Fen::ZERO).yuan()
        ),
        DisputeStatus::MerchantRejected => "商家不同意退款，可申请物业介入".to_owned(),
        DisputeStatus::Escalated => "已转物业客服调解".to_owned(),
        DisputeStatus::Resolved => format!(
            "已处理，退款 {} 元",
            d.refund_amount.unwrap_or(Fen::ZERO).yuan()
        ),
        DisputeStatus::Withdrawn => "已撤销".to_owned(),
    };
    let params = [("order_no", order_no.to_owned()), ("status", status)];
    let mut to = vec![d.opened_by];
    if let Some(m) = d.merchant_id {
        to.extend(
            merchant_staff::Entity::find()
                .filter(merchant_staff::Column::MerchantId.eq(m))
                .filter(merchant_staff::Column::Role.eq(MerchantRole::Owner))
                .select_only()
                .column(merchant_staff::Column::UserId)
                .into_tuple::<UserId>()
                .all(db)
                .await?,
        );
    }
    for user in to {
        crate::outbox::service::notify(db, settings, user, "dispute_update", &params).await?;
    }
    Ok(())
}
