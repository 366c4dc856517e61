//! A payment arrives: the one path every provider's payment takes (WeChat
//! Pay's notification, the wallet, the sandbox). It moves the order to paid,
//! posts the money into escrow, and succeeds the order's group buy when this
//! payment reaches its minimum. Money that arrives for an order that can no
//! longer take it is recorded and sent straight back.
//!
//! A payment starts here too: an order's ([`pay_order`]) and a property-fee
//! bill's ([`pay_fee_bill`]) both through [`payment::service::start`], and
//! are recorded at once when the wallet or the sandbox pays.

use chrono::{DateTime, Utc};
use entity::{
    FeeBillStatus, Fen, GroupBuyStatus, OrderId, OrderStatus, PaymentMethod, UserId, fee_bill,
    group_buy, merchant_approval, order, order_line,
};
use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{Actor, MoveDetails, advance, paying_households};
use crate::payment::service::{self as payments, Charge, Via};
use crate::payment::views::PaymentStart;
use crate::payment::wechat_pay::RequestPayment;
use crate::payment::wechat_pay::WechatPay;
use crate::payment::wechat_pay::crypto::SignedHeaders;
use crate::payment::wechat_pay::notify::{self, Outcome, Refusal, Transaction};
use crate::{fees, group_buys, merchant};

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
    payments::post_payment(txn, &paid, method).await?;
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
    payments::post_payment(&txn, &order, method).await?;
    payments::refunds::refund(
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

/// Pays `o` for `payer`: from the household's wallet at once
/// (`from_wallet`), or through the configured provider (the sandbox at
/// once; WeChat Pay when its notification arrives). Returns the order (paid,
/// when it was paid at once) and what the client does next.
pub async fn pay_order(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    o: order::Model,
    payer: UserId,
    from_wallet: bool,
) -> ApiResult<(order::Model, PaymentStart)> {
    if o.status == OrderStatus::PendingPayment {
        crate::orders::service::ensure_payable(db, &o).await?;
    }
    let via = if from_wallet {
        // A WeChat Pay prepay may still be completed by the resident.
        let open = o.prepaid_at.is_some() && o.pay_closed_at.is_none();
        Via::Wallet {
            open_prepay: open.then_some(o.order_no.as_str()),
        }
    } else {
        if pay.is_some() {
            // Only WeChat Pay is asked before the order is paid; the
            // sandbox's payment takes the recording's own checks.
            if o.status != OrderStatus::PendingPayment {
                return Err(ApiError::new(
                    ErrorCode::InvalidTransition,
                    format!("an order that is {} cannot be paid", o.status),
                ));
            }
            if clock::now() > o.payment_deadline {
                return Err(ApiError::new(
                    ErrorCode::PaymentDeadlinePassed,
                    "the payment deadline has passed; the order no longer holds its goods",
                ));
            }
        }
        Via::Provider(Charge {
            payer,
            trade_no: &o.order_no,
            amount: o.amount,
            expires: o.payment_deadline,
            description: order_description(db, &o).await?,
        })
    };
    let closing_prepay = matches!(
        via,
        Via::Wallet {
            open_prepay: Some(_)
        }
    ) && pay.is_some();
    let started = payments::start(db, settings, pay, via).await?;
    let method = match &started {
        PaymentStart::Wallet => PaymentMethod::Wallet,
        PaymentStart::Sandbox => PaymentMethod::Sandbox,
        PaymentStart::WechatPay { .. } => {
            // From now on WeChat Pay may take the money: reconciliation
            // watches it.
            order::Entity::update_many()
                .col_expr(order::Column::PrepaidAt, Expr::value(clock::now()))
                .filter(order::Column::Id.eq(o.id))
                .filter(order::Column::PrepaidAt.is_null())
                .exec(db)
                .await?;
            return Ok((o, started));
        }
    };
    if closing_prepay {
        order::Entity::update_many()
            .col_expr(order::Column::PayClosedAt, Expr::value(clock::now()))
            .filter(order::Column::Id.eq(o.id))
            .exec(db)
            .await?;
    }
    let paid = record_paid(db, settings, o.id, method, clock::now()).await?;
    Ok((paid, started))
}

/// What the payer sees in WeChat for an order: its one line's title, the
/// first line's and how many, or its number.
async fn order_description<C: ConnectionTrait>(db: &C, o: &order::Model) -> ApiResult<String> {
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(o.id))
        .order_by_asc(order_line::Column::Id)
        .all(db)
        .await?;
    Ok(match lines.as_slice() {
        [] => format!("安家订单 {}", o.order_no),
        [one] => one.title.clone(),
        [first, ..] => format!("{} 等{}件", first.title, lines.len()),
    })
}

/// Pays what is owed on `bill` for `payer`: `wallet` fen from the
/// household's wallet at once, the rest through the configured provider
/// (the sandbox at once; WeChat Pay when its notification arrives). Returns
/// the bill and, when WeChat Pay takes the rest, what `wx.requestPayment`
/// needs.
pub async fn pay_fee_bill(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    bill: fee_bill::Model,
    payer: UserId,
    wallet: Fen,
) -> ApiResult<(fee_bill::Model, Option<RequestPayment>)> {
    let owed = fees::service::outstanding(&bill);
    if owed == Fen::ZERO {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            if bill.status == FeeBillStatus::Void {
                "this bill was voided: nothing is owed"
            } else {
                "this bill is paid"
            },
        ));
    }
    let Some(rest) = owed.checked_sub(wallet) else {
        return Err(ApiError::invalid_field(
            "wallet",
            format!("at most the {} yuan still owed", owed.yuan()),
        ));
    };
    if wallet > Fen::ZERO {
        payments::ensure_wallet_holds(db, bill.household_id, wallet).await?;
    }
    let mut request_payment = None;
    let how = if rest == Fen::ZERO {
        fees::service::Rest::Nothing
    } else {
        let trade_no = fees::service::new_trade_no();
        let charge = Charge {
            payer,
            trade_no: &trade_no,
            amount: rest,
            expires: clock::now()
                + chrono::Duration::minutes(i64::from(settings.payment.unpaid_timeout_mins)),
            description: format!("物业费 {}", bill.period),
        };
        match payments::start(db, settings, pay, Via::Provider(charge)).await? {
            PaymentStart::WechatPay { request_payment: r } => {
                request_payment = Some(r);
                fees::service::Rest::WechatPay { trade_no }
            }
            PaymentStart::Sandbox | PaymentStart::Wallet => fees::service::Rest::Sandbox,
        }
    };
    let bill = fees::service::pay(db, settings, bill.id, payer, wallet, rest, how).await?;
    Ok((bill, request_payment))
}

/// WeChat Pay's payment notification, opened and applied: a property-fee
/// part (its trade number starts with [`fees::service::TRADE_PREFIX`]) or an order,
/// whose money goes straight back when the order can no longer take it.
pub async fn wechat_notified(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    headers: &SignedHeaders<'_>,
    body: &[u8],
) -> Outcome {
    let Some(tx) = notify::payment(pay, headers, body)? else {
        return Ok(());
    };
    if tx.out_trade_no.starts_with(fees::service::TRADE_PREFIX) {
        wechat_paid_fee(db, settings, &tx).await
    } else {
        wechat_paid_order(db, settings, &tx).await
    }
}

async fn wechat_paid_fee(
    db: &DatabaseConnection,
    settings: &Settings,
    tx: &Transaction,
) -> Outcome {
    if !tx.amount.in_cny() {
        return Err(Refusal::BadRequest("the currency is not CNY"));
    }
    match fees::service::wechat_paid(db, settings, &tx.out_trade_no, tx.amount.total).await {
        Ok(Some(true)) => Ok(()),
        Ok(Some(false)) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, paid = tx.amount.total,
                "WeChat Pay reports a different amount than the fee payment's");
            Err(Refusal::BadRequest("the amount does not match the payment"))
        }
        Ok(None) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, "WeChat Pay paid a fee payment anjia does not know");
            Err(Refusal::NotFound("no such payment"))
        }
        Err(e) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, error = %e, "applying a WeChat Pay fee payment");
            Err(Refusal::NotApplied)
        }
    }
}

async fn wechat_paid_order(
    db: &DatabaseConnection,
    settings: &Settings,
    tx: &Transaction,
) -> Outcome {
    let found = order::Entity::find()
        .filter(order::Column::OrderNo.eq(tx.out_trade_no.as_str()))
        .one(db)
        .await;
    let order = match found {
        Ok(Some(o)) => o,
        Ok(None) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, "WeChat Pay paid an order anjia does not know");
            return Err(Refusal::NotFound("no such order"));
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the order of a WeChat Pay notification");
            return Err(Refusal::NotApplied);
        }
    };
    if tx.amount.total != order.amount.as_i64() || !tx.amount.in_cny() {
        tracing::error!(order = %order.order_no, paid = tx.amount.total, due = order.amount.as_i64(),
            "WeChat Pay reports a different amount than the order's");
        return Err(Refusal::BadRequest("the amount does not match the order"));
    }
    let paid_at = notify::paid_time(tx.success_time.as_deref());
    match wechat_paid(db, settings, order.id, paid_at).await {
        Ok(WechatPaid::Applied) => {
            tracing::info!(order = %order.order_no, transaction = %tx.transaction_id, "WeChat Pay payment applied");
            Ok(())
        }
        Ok(WechatPaid::SentBack) => {
            tracing::warn!(order = %order.order_no, transaction = %tx.transaction_id,
                "WeChat Pay payment for a closed order: refunded");
            Ok(())
        }
        Ok(WechatPaid::Before) => Ok(()),
        Err(e) => {
            tracing::error!(order = %order.order_no, error = %e, "applying a WeChat Pay payment");
            Err(Refusal::NotApplied)
        }
    }
}

/// What became of a payment WeChat Pay reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatPaid {
    /// The order is paid (now, or it was already).
    Applied,
    /// The order could no longer take the money: it is sent straight back.
    SentBack,
    /// Another copy of the report applied it just now.
    Before,
}

/// Applies WeChat Pay's payment of an order (its notification, or
/// reconciliation's query): paid, or, when another copy applied it just now
/// or the order can no longer take the money, sent straight back.
pub async fn wechat_paid(
    db: &DatabaseConnection,
    settings: &Settings,
    order_id: OrderId,
    paid_at: DateTime<Utc>,
) -> ApiResult<WechatPaid> {
    match record_paid(db, settings, order_id, PaymentMethod::WechatPay, paid_at).await {
        Ok(_) => Ok(WechatPaid::Applied),
        Err(e) if let Some(why) = crate::orders::service::refused_payment(e.code) => {
            let late = late_payment(
                db,
                settings,
                order_id,
                PaymentMethod::WechatPay,
                why,
                paid_at,
            )
            .await?;
            Ok(if late {
                WechatPaid::SentBack
            } else {
                WechatPaid::Before
            })
        }
        Err(e) => Err(e),
    }
}
