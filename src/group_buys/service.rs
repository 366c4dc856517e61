//! Group-buy moves and the sweeps that drive them without a person.
//!
//! Every status change is one conditional update (`set_status`: "from this
//! status, or it changed meanwhile"):
//!
//! - [`move_group`]: the organiser's moves; checks
//!   [`GroupBuyStatus::may_become`] and cascades to the orders (fulfilling
//!   accepts them, ready puts them at the pickup point or on the road).
//! - [`succeed`]: the payment that reaches the minimum.
//! - [`pause_merchant`] / [`resume`]: a merchant that may no longer sell has
//!   its group buys paused; the property resumes them.
//! - [`sweep_deadlines`] closes, or fails, group buys past their deadline
//!   (paused ones fail).
//!
//! The orders of failed and cancelled group buys are cancelled or refunded
//! by the group-buys flow (`flows/group_buys.rs`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{
    CommunityId, Fulfilment, GroupBuyId, GroupBuyStatus, MerchantId, OrderStatus, UserId, group_buy,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{begin_write, claim_ids};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{Actor, MoveDetails, advance, orders_of_group, paying_households};
use crate::state::AppState;

/// The people holding paid orders in the group buy (each told once).
async fn participants<C: ConnectionTrait>(db: &C, group: GroupBuyId) -> ApiResult<Vec<UserId>> {
    let orders = orders_of_group(db, group, &OrderStatus::PAID, None).await?;
    Ok(orders
        .into_iter()
        .map(|o| o.user_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

async fn tell_participants<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    group: &group_buy::Model,
    kind: &str,
) -> ApiResult<()> {
    for user in participants(db, group.id).await? {
        crate::outbox::notify(db, settings, user, kind, &[("title", group.title.clone())]).await?;
    }
    Ok(())
}

/// The conditional update of a group buy's status. Returns `false` when
/// someone else moved it first.
async fn set_status<C: ConnectionTrait>(
    db: &C,
    group: &group_buy::Model,
    to: GroupBuyStatus,
    reason: Option<&str>,
) -> ApiResult<bool> {
    let now = clock::now();
    let mut changes = group_buy::ActiveModel {
        status: Set(to),
        updated_at: Set(now),
        ..Default::default()
    };
    // A group buy resumed after a pause keeps the moment it first succeeded.
    if to == GroupBuyStatus::Succeeded && group.succeeded_at.is_none() {
        changes.succeeded_at = Set(Some(now));
    }
    if let Some(r) = reason {
        changes.status_reason = Set(Some(r.chars().take(200).collect()));
    }
    let moved = group_buy::Entity::update_many()
        .set(changes)
        .filter(group_buy::Column::Id.eq(group.id))
        .filter(group_buy::Column::Status.eq(group.status))
        .exec(db)
        .await?
        .rows_affected;
    Ok(moved == 1)
}

/// Marks an open group buy succeeded (its minimum reached) and tells every
/// participant. A no-op when it already moved on.
pub async fn succeed<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    group: &group_buy::Model,
) -> ApiResult<bool> {
    if group.status != GroupBuyStatus::Open {
        return Ok(false);
    }
    if !set_status(db, group, GroupBuyStatus::Succeeded, None).await? {
        return Ok(false);
    }
    tell_participants(db, settings, group, "group_succeeded").await?;
    Ok(true)
}

/// Moves a group buy on behalf of its organiser (or the property) and
/// cascades to its orders, in the caller's transaction.
pub async fn move_group<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    group: &group_buy::Model,
    to: GroupBuyStatus,
    actor: Actor,
    reason: Option<&str>,
) -> ApiResult<group_buy::Model> {
    let from = group.status;
    if !from.may_become(to) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("a group buy that is {from} cannot become {to}"),
        )
        .with_details(serde_json::json!({ "status": from, "requested": to })));
    }
    let settings = &state.settings;
    if !set_status(db, group, to, reason).await? {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the group buy changed meanwhile; reload it and try again",
        ));
    }
    match to {
        GroupBuyStatus::Fulfilling => {
            for o in orders_of_group(db, group.id, &[OrderStatus::Paid], None).await? {
                let accepted = advance(
                    db,
                    settings,
                    &o,
                    OrderStatus::Accepted,
                    actor,
                    MoveDetails::default(),
                )
                .await?;
                advance(
                    db,
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
            for o in orders_of_group(db, group.id, &[OrderStatus::Preparing], None).await? {
                let to = match o.fulfilment {
                    Fulfilment::Pickup => OrderStatus::ReadyForPickup,
                    Fulfilment::Delivery => OrderStatus::Dispatched,
                };
                let moved = advance(db, settings, &o, to, actor, MoveDetails::default()).await?;
                if to == OrderStatus::ReadyForPickup {
                    crate::pickup::service::order_ready(db, settings, &state.pii, &moved).await?;
                }
            }
        }
        GroupBuyStatus::Cancelled => {
            tell_participants(db, settings, group, "group_cancelled").await?;
        }
        _ => {}
    }
    group_buy::Entity::find_by_id(group.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Pauses the group buys of `merchant` in `community` that take orders,
/// because the merchant may no longer sell there (suspended, rejected, or
/// sent back to review), and tells their participants. In the caller's
/// transaction. Returns how many were paused.
pub async fn pause_merchant<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    merchant: MerchantId,
    community: CommunityId,
    why: &str,
) -> ApiResult<usize> {
    let taking_orders = [GroupBuyStatus::Open, GroupBuyStatus::Succeeded];
    let groups = group_buy::Entity::find()
        .filter(group_buy::Column::MerchantId.eq(merchant))
        .filter(group_buy::Column::CommunityId.eq(community))
        .filter(group_buy::Column::Status.is_in(taking_orders))
        .all(db)
        .await?;
    let mut paused = 0;
    for mut group in groups {
        // A payment may move it from open to succeeded meanwhile (it waits
        // on the row's lock on PostgreSQL): read it again and pause that.
        for _ in 0..3 {
            if set_status(db, &group, GroupBuyStatus::Paused, Some(why)).await? {
                tell_participants(db, settings, &group, "group_paused").await?;
                paused += 1;
                break;
            }
            match group_buy::Entity::find_by_id(group.id).one(db).await? {
                Some(now) if now.status.takes_orders() => group = now,
                _ => break,
            }
        }
    }
    Ok(paused)
}

/// Resumes a paused group buy (the property's decision, once its merchant
/// sells here again): it takes orders again, as succeeded if it had reached
/// its minimum before the pause. In the caller's transaction.
pub async fn resume<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    group: &group_buy::Model,
) -> ApiResult<group_buy::Model> {
    if group.status != GroupBuyStatus::Paused {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "only a paused group buy resumes (this one is {})",
                group.status
            ),
        ));
    }
    if group.deadline <= clock::now() {
        return Err(ApiError::new(
            ErrorCode::DeadlinePassed,
            "the deadline has passed; the group buy fails and is refunded",
        ));
    }
    if let Some(merchant) = group.merchant_id {
        crate::merchant::service::ensure_selling(db, merchant, group.community_id).await?;
    }
    let to = GroupBuyStatus::resumes_to(group.succeeded_at.is_some());
    if !set_status(db, group, to, None).await? {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the group buy changed meanwhile; reload it and try again",
        ));
    }
    // The pause's reason no longer applies.
    group_buy::Entity::update_many()
        .col_expr(
            group_buy::Column::StatusReason,
            sea_orm::sea_query::Expr::value(Option::<String>::None),
        )
        .filter(group_buy::Column::Id.eq(group.id))
        .exec(db)
        .await?;
    tell_participants(db, settings, group, "group_resumed").await?;
    group_buy::Entity::find_by_id(group.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Closes the group buys whose deadline has passed: succeeded ones close;
/// open ones succeed and close when enough households paid, and fail
/// otherwise, as do paused ones (the group-buys flow then settles their
/// orders). Returns how many moved.
pub async fn sweep_deadlines(
    db: &DatabaseConnection,
    settings: &Settings,
    now: DateTime<Utc>,
    batch: u32,
) -> ApiResult<usize> {
    let txn = begin_write(db).await?;
    let ids: Vec<GroupBuyId> = claim_ids(
        &txn,
        "SELECT id FROM group_buys WHERE status IN ('open', 'succeeded', 'paused') AND deadline <= $1 \
         ORDER BY deadline LIMIT $2",
        vec![now.into(), i64::from(batch).into()],
    )
    .await?;
    let mut moved = 0;
    for id in ids {
        let Some(mut group) = group_buy::Entity::find_by_id(id).one(&txn).await? else {
            continue;
        };
        if group.status == GroupBuyStatus::Paused {
            if set_status(
                &txn,
                &group,
                GroupBuyStatus::Failed,
                Some("the deadline passed while the group buy was paused"),
            )
            .await?
            {
                tell_participants(&txn, settings, &group, "group_failed").await?;
                moved += 1;
            }
            continue;
        }
        if group.status == GroupBuyStatus::Open {
            if paying_households(&txn, group.id).await? >= i64::from(group.min_households) {
                if succeed(&txn, settings, &group).await? {
                    group.status = GroupBuyStatus::Succeeded;
                }
            } else {
                if set_status(
                    &txn,
                    &group,
                    GroupBuyStatus::Failed,
                    Some("the deadline passed below the minimum"),
                )
                .await?
                {
                    tell_participants(&txn, settings, &group, "group_failed").await?;
                    moved += 1;
                }
                continue;
            }
        }
        if group.status == GroupBuyStatus::Succeeded
            && set_status(&txn, &group, GroupBuyStatus::Closed, None).await?
        {
            moved += 1;
        }
    }
    txn.commit().await?;
    Ok(moved)
}
