//! A group buy's move carries its orders along:
//!
//! - An organiser's move ([`merchant_move`], [`property_move`]): fulfilling
//!   accepts the paid orders and starts preparing them; ready puts them at
//!   the pickup point (with a pickup code) or on the road.
//! - Called off (failed below its minimum, or cancelled): its unpaid orders
//!   are cancelled and its paid ones refunded ([`settle_called_off`]), in
//!   batches claimed with `SKIP LOCKED`. Each order moves by a conditional
//!   update and each refund is keyed by its decision, so two instances
//!   sweeping at once refund every order exactly once, and a crash mid-way
//!   resumes at the next sweep.

use entity::{Fulfilment, GroupBuyId, GroupBuyStatus, MerchantId, OrderStatus, group_buy, order};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};

use crate::config::Settings;
use crate::group_buys::service::{self as group_buys, Viewer};
use crate::group_buys::views::{GroupBuy, GroupBuyMove};
use crate::kernel::db::{begin_write, claim_ids};
use crate::kernel::error::ApiResult;
use crate::orders::service::{Actor, MoveDetails, orders_of_group};
use crate::pii::PiiCipher;

use super::orders::advance;

/// A merchant moves one of its group buys.
pub async fn merchant_move(
    db: &DatabaseConnection,
    settings: &Settings,
    pii: &PiiCipher,
    merchant: MerchantId,
    id: GroupBuyId,
    body: GroupBuyMove,
    actor: Actor,
) -> ApiResult<GroupBuy> {
    let g = group_buys::merchant_group(db, merchant, id).await?;
    group_buys::check_merchant_move(db, &g, body.status).await?;
    organiser_move(db, settings, pii, g, body, actor).await
}

/// The property moves a group buy of its community: its own, or a
/// merchant's it cancels or resumes.
pub async fn property_move(
    db: &DatabaseConnection,
    settings: &Settings,
    pii: &PiiCipher,
    viewer: Viewer,
    id: GroupBuyId,
    body: GroupBuyMove,
    actor: Actor,
) -> ApiResult<GroupBuy> {
    let g = group_buys::group_here(db, viewer, id).await?;
    group_buys::check_property_move(&g, body.status)?;
    organiser_move(db, settings, pii, g, body, actor).await
}

/// Moves `g` as its organiser asks, with its orders, in one transaction; a
/// group buy called off has its orders refunded at once (the sweeper
/// finishes whatever this leaves).
async fn organiser_move(
    db: &DatabaseConnection,
    settings: &Settings,
    pii: &PiiCipher,
    g: group_buy::Model,
    body: GroupBuyMove,
    actor: Actor,
) -> ApiResult<GroupBuy> {
    let asked = body.parse()?;
    group_buys::refuse_late_opening(&g, &asked)?;
    let txn = begin_write(db).await?;
    let moved = if g.status == GroupBuyStatus::Paused && asked.to() == GroupBuyStatus::Open {
        group_buys::resume(&txn, settings, &g).await?
    } else {
        let moved = group_buys::move_group(&txn, settings, &g, &asked).await?;
        move_orders(&txn, settings, pii, &moved, actor).await?;
        moved
    };
    txn.commit().await?;
    if moved.status.refunds_orders() {
        while settle_called_off(db, settings, settings.jobs.batch_size).await? > 0 {}
    }
    group_buys::view(db, moved).await
}

/// The orders' moves that follow the group buy's: fulfilling accepts the
/// paid orders and starts preparing them; ready puts the prepared ones at
/// the pickup point or on the road. None of these lets go of paid money.
async fn move_orders<C: ConnectionTrait>(
    txn: &C,
    settings: &Settings,
    pii: &PiiCipher,
    group: &group_buy::Model,
    actor: Actor,
) -> ApiResult<()> {
    match group.status {
        GroupBuyStatus::Fulfilling => {
            for o in orders_of_group(txn, group.id, &[OrderStatus::Paid], None).await? {
                let accepted = advance(
                    txn,
                    settings,
                    &o,
                    OrderStatus::Accepted,
                    actor,
                    MoveDetails::default(),
                )
                .await?;
                advance(
                    txn,
                    settings,
                    &accepted,
                    OrderStatus::Preparing,
                    actor,
                    MoveDetails::default(),
                )
                .await?;
            }
        }
        GroupBuyStatus::Ready => {
            for o in orders_of_group(txn, group.id, &[OrderStatus::Preparing], None).await? {
                let to = match o.fulfilment {
                    Fulfilment::Pickup => OrderStatus::ReadyForPickup,
                    Fulfilment::Delivery => OrderStatus::Dispatched,
                };
                let moved = advance(txn, settings, &o, to, actor, MoveDetails::default()).await?;
                if to == OrderStatus::ReadyForPickup {
                    crate::pickup::service::order_ready(txn, settings, pii, &moved).await?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Cancels the unpaid orders and refunds the paid ones of failed and
/// cancelled group buys, one batch per call. Returns how many it settled.
pub async fn settle_called_off(
    db: &DatabaseConnection,
    settings: &Settings,
    batch: u32,
) -> ApiResult<usize> {
    let txn = begin_write(db).await?;
    let ids: Vec<entity::OrderId> = claim_ids(
        &txn,
        "SELECT id FROM orders WHERE status IN ('pending_payment', 'paid') \
         AND group_buy_id IN (SELECT id FROM group_buys WHERE status IN ('failed', 'cancelled')) \
         ORDER BY id LIMIT $1",
        vec![i64::from(batch).into()],
    )
    .await?;
    let mut settled = 0;
    for id in ids {
        let Some(o) = order::Entity::find_by_id(id).one(&txn).await? else {
            continue;
        };
        let group_status = match o.group_buy_id {
            Some(g) => group_buy::Entity::find_by_id(g)
                .one(&txn)
                .await?
                .map(|g| g.status),
            None => None,
        };
        let reason = match group_status {
            Some(GroupBuyStatus::Failed) => "团购未成团",
            _ => "团购已取消",
        };
        let to = match o.status {
            OrderStatus::PendingPayment => OrderStatus::Cancelled,
            OrderStatus::Paid => OrderStatus::Refunded,
            _ => continue,
        };
        advance(
            &txn,
            settings,
            &o,
            to,
            Actor::SYSTEM,
            MoveDetails {
                reason: Some(reason.to_owned()),
                ..Default::default()
            },
        )
        .await?;
        settled += 1;
    }
    txn.commit().await?;
    Ok(settled)
}
