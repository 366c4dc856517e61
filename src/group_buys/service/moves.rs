//! A group buy's status moves, each one `db::transition` ("from this
//! status, or it changed meanwhile"):
//!
//! - [`move_group`]: the organiser's moves (their orders' moves are the
//!   group-buys flow's).
//! - [`succeed`]: the payment that reaches the minimum.
//! - [`pause_merchant`] / [`resume`]: a merchant that may no longer sell has
//!   its group buys paused; the property resumes them.
//! - [`sweep_deadlines`] closes, or fails, group buys past their deadline
//!   (paused ones fail).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use entity::{CommunityId, GroupBuyId, GroupBuyStatus, MerchantId, OrderStatus, UserId, group_buy};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::config::Settings;
use crate::group_buys::views::OrganiserMove;
use crate::kernel::clock;
use crate::kernel::db::{begin_write, claim_ids, transition};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{orders_of_group, paying_households};

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
        crate::outbox::service::notify(db, settings, user, kind, &[("title", group.title.clone())])
            .await?;
    }
    Ok(())
}

/// Moves `group` to `to` (with `reason`, when given, as its status reason;
/// `Some(None)` clears it), from the status it was read with.
async fn set_status<C: ConnectionTrait>(
    db: &C,
    group: &group_buy::Model,
    to: GroupBuyStatus,
    reason: Option<Option<&str>>,
) -> ApiResult<()> {
    let now = clock::now();
    let mut update = group_buy::Entity::update_many()
        .col_expr(group_buy::Column::UpdatedAt, Expr::value(now))
        .filter(group_buy::Column::Id.eq(group.id));
    // A group buy resumed after a pause keeps the moment it first succeeded.
    if to == GroupBuyStatus::Succeeded && group.succeeded_at.is_none() {
        update = update.col_expr(group_buy::Column::SucceededAt, Expr::value(Some(now)));
    }
    if let Some(r) = reason {
        let r: Option<String> = r.map(|r| r.chars().take(200).collect());
        update = update.col_expr(group_buy::Column::StatusReason, Expr::value(r));
    }
    transition(db, update, group_buy::Column::Status, group.status, to).await
}

/// [`set_status`] for the moves nobody asked for (a payment, a sweep, a
/// merchant's standing): `false` when the group buy moved meanwhile.
async fn set_status_if_still<C: ConnectionTrait>(
    db: &C,
    group: &group_buy::Model,
    to: GroupBuyStatus,
    reason: Option<&str>,
) -> ApiResult<bool> {
    match set_status(db, group, to, reason.map(Some)).await {
        Ok(()) => Ok(true),
        Err(e) if e.code == ErrorCode::InvalidTransition => Ok(false),
        Err(e) => Err(e),
    }
}

async fn reread<C: ConnectionTrait>(db: &C, group: GroupBuyId) -> ApiResult<group_buy::Model> {
    group_buy::Entity::find_by_id(group)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
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
    if !set_status_if_still(db, group, GroupBuyStatus::Succeeded, None).await? {
        return Ok(false);
    }
    tell_participants(db, settings, group, "group_succeeded").await?;
    Ok(true)
}

/// Refuses to open a group buy whose deadline has passed.
pub fn refuse_late_opening(group: &group_buy::Model, asked: &OrganiserMove) -> ApiResult<()> {
    if asked.to() == GroupBuyStatus::Open && group.deadline <= clock::now() {
        return Err(ApiError::new(
            ErrorCode::DeadlinePassed,
            "the deadline has passed; open a new group buy",
        ));
    }
    Ok(())
}

/// What a merchant may not do to its own group buy: move it while paused
/// (the property decides), or open it where it may not sell.
pub async fn check_merchant_move(
    db: &DatabaseConnection,
    group: &group_buy::Model,
    to: GroupBuyStatus,
) -> ApiResult<()> {
    if group.status == GroupBuyStatus::Paused {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the property paused this group buy when your standing here changed; it decides whether it resumes or is cancelled",
        )
        .with_details(serde_json::json!({ "status": group.status, "requested": to })));
    }
    if to == GroupBuyStatus::Open
        && let Some(merchant) = group.merchant_id
    {
        crate::merchant::service::ensure_selling(db, merchant, group.community_id).await?;
    }
    Ok(())
}

/// What the property may do to a merchant's group buy: cancel it, or
/// resume it once paused (its own it runs whole).
pub fn check_property_move(group: &group_buy::Model, to: GroupBuyStatus) -> ApiResult<()> {
    let resuming = group.status == GroupBuyStatus::Paused && to == GroupBuyStatus::Open;
    if group.merchant_id.is_some() && to != GroupBuyStatus::Cancelled && !resuming {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the merchant runs this group buy; the property may only cancel it, or resume it once paused",
        ));
    }
    Ok(())
}

/// Moves a group buy on behalf of its organiser (or the property), in the
/// caller's transaction, and tells the participants of a cancellation.
/// Returns it as moved.
pub async fn move_group<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    group: &group_buy::Model,
    asked: &OrganiserMove,
) -> ApiResult<group_buy::Model> {
    let to = asked.to();
    set_status(db, group, to, asked.reason().map(Some)).await?;
    if to == GroupBuyStatus::Cancelled {
        tell_participants(db, settings, group, "group_cancelled").await?;
    }
    reread(db, group.id).await
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
            if set_status_if_still(db, &group, GroupBuyStatus::Paused, Some(why)).await? {
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
/// its minimum before the pause, and the pause's reason goes. In the
/// caller's transaction.
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
    set_status(db, group, to, Some(None)).await?;
    tell_participants(db, settings, group, "group_resumed").await?;
    reread(db, group.id).await
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
            if set_status_if_still(
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
                if set_status_if_still(
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
            && set_status_if_still(&txn, &group, GroupBuyStatus::Closed, None).await?
        {
            moved += 1;
        }
    }
    txn.commit().await?;
    Ok(moved)
}
