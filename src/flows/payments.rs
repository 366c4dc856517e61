//! A payment arrives: the one path every provider's payment takes (WeChat
//! Pay's notification, the wallet, the sandbox). It moves the order to paid,
//! posts the money into escrow, and succeeds the order's group buy when this
//! payment reaches its minimum. Money that arrives for an order that can no
//! longer take it is recorded and sent straight back.

use chrono::{DateTime, Utc};
use entity::{
    GroupBuyStatus, OrderId, OrderStatus, PaymentMethod, group_buy, merchant_approval, order,
};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{Actor, MoveDetails, advance, paying_households};
use crate::{group_buys, merchant, payment};

/// Applies a payment made at `paid_at` to an order: the one path every
/// provider takes. A payment reported twice is applied once; an order whose
/// late payment was refunded cannot be paid again. When the order belongs to a
/// group buy whose minimum this payment reaches, the group succeeds and
/// every participant is told.
pub async fn record_paid(
    db: &DatabaseConnection,
    settings: &Settings,
    order_id: OrderId,
    method: PaymentMethod,
    paid_at: DateTime<Utc>,
) -> ApiResult<order::Model> {
    let txn = begin_write(db).await?;
    // Rolled back at once when refused: on SQLite a transaction merely
    // dropped keeps the write lock until its connection is used again.
    match pay_in(&txn, settings, order_id, method, paid_at).await {
        Ok(Some(paid)) => {
            txn.commit().await?;
            Ok(paid)
        }
        Ok(None) => {
            txn.rollback().await?;
            order::Entity::find_by_id(order_id)
                .one(db)
                .await?
                .ok_or_else(ApiError::not_found)
        }
        Err(e) => {
            txn.rollback().await?;
            Err(e)
        }
    }
}

/// [`record_paid`]'s work in its transaction: the order paid, or `None`
/// when it was paid before.
async fn pay_in<C: ConnectionTrait>(
    txn: &C,
    settings: &Settings,
    order_id: OrderId,
    method: PaymentMethod,
    paid_at: DateTime<Utc>,
) -> ApiResult<Option<order::Model>> {
    // The order with its merchant's standing in its community, in one read.
    let standing = order::Entity::belongs_to(merchant_approval::Entity)
        .from(order::Column::MerchantId)
        .to(merchant_approval::Column::MerchantId)
        .on_condition(|o, a| {
            Expr::col((a, merchant_approval::Column::CommunityId))
                .equals((o, order::Column::CommunityId))
                .into_condition()
        })
        .into();
    let (order, approval) = order::Entity::find_by_id(order_id)
        .join(sea_orm::JoinType::LeftJoin, standing)
        .select_also(merchant_approval::Entity)
        .one(txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if order.status.is_paid() {
        return Ok(None);
    }
    if order.status != OrderStatus::PendingPayment || order.paid_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("an order that is {} cannot be paid", order.status),
        ));
    }
    // The provider's own time of payment counts (a notification may come
    // after the deadline for a payment made before it).
    if paid_at > order.payment_deadline {
        return Err(ApiError::new(
            ErrorCode::PaymentDeadlinePassed,
            "the payment deadline has passed; the order no longer holds its goods",
        ));
    }
    // Payments of one group buy queue on its row (PostgreSQL), so the one
    // that reaches the minimum sees every payment before it.
    let group = match order.group_buy_id {
        Some(g) => {
            let found = group_buy::Entity::find_by_id(g)
                .lock_exclusive()
                .one(txn)
                .await?
                .ok_or_else(ApiError::not_found)?;
            if !found.status.takes_orders() {
                return Err(ApiError::new(
                    ErrorCode::GroupBuyNotOpen,
                    format!("the group buy is {}", found.status),
                ));
            }
            Some(found)
        }
        None => None,
    };
    // A merchant suspended, rejected or expired since the order was made
    // takes no more money.
    if order.merchant_id.is_some() && !approval.is_some_and(|a| a.may_sell(clock::now())) {
        return Err(merchant::service::not_selling());
    }
    let paid = advance(
        txn,
        settings,
        &order,
        OrderStatus::Paid,
        Actor::SYSTEM,
        MoveDetails {
            payment_method: Some(method),
            paid_at: Some(paid_at),
            ..Default::default()
        },
    )
    .await?;
    payment::post_payment(txn, &paid, method).await?;
    if let Some(group) = group
        && group.status == GroupBuyStatus::Open
        && paying_households(txn, group.id).await? >= i64::from(group.min_households)
    {
        group_buys::service::succeed(txn, settings, &group).await?;
    }
    Ok(Some(paid))
}

/// Money that arrived for an order that cannot take it (expired, cancelled,
/// its group closed): recorded once, and sent straight back. Returns `true`
/// when this call recorded it, `false` when the order already holds a
/// payment (another copy of the notification applied it).
pub async fn late_payment(
    db: &DatabaseConnection,
    settings: &Settings,
    order_id: OrderId,
    method: PaymentMethod,
    why: &str,
    paid_at: chrono::DateTime<chrono::Utc>,
) -> ApiResult<bool> {
    let txn = begin_write(db).await?;
    let Some(found) = order::Entity::find_by_id(order_id).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    if found.status.is_paid() || found.paid_at.is_some() {
        txn.rollback().await?;
        return Ok(false);
    }
    // Still waiting for payment (past its deadline, or its group buy or
    // merchant stopped taking orders): it expires now (its stock goes
    // back), so it can never be paid after this refund.
    let found = if found.status == OrderStatus::PendingPayment {
        advance(
            &txn,
            settings,
            &found,
            OrderStatus::Expired,
            Actor::SYSTEM,
            MoveDetails {
                reason: Some(why.to_owned()),
                ..Default::default()
            },
        )
        .await?
    } else {
        found
    };
    let marked = order::Entity::update_many()
        .col_expr(order::Column::PaidAt, Expr::value(paid_at))
        .col_expr(order::Column::PaymentMethod, Expr::value(method.as_str()))
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::PaidAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if marked == 0 {
        txn.rollback().await?;
        return Ok(false);
    }
    let order = order::Model {
        paid_at: Some(paid_at),
        payment_method: Some(method),
        ..found
    };
    payment::post_payment(&txn, &order, method).await?;
    payment::refund(
        &txn,
        settings,
        &order,
        order.amount,
        "paid after the order had closed",
        &format!("order:{order_id}:late"),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
