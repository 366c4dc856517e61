//! Reconciliation with WeChat Pay: a notification can be lost, and an order
//! that timed out here can still be open there. Every sweep claims a batch of
//! prepaid orders not yet closed at WeChat Pay (skipping rows another
//! instance holds, and each at most once a minute), asks WeChat Pay about
//! each (`/v3/pay/transactions/out-trade-no/{no}`), applies a payment it
//! reports exactly as a notification would, and closes at WeChat Pay
//! (`…/close`) the orders that can no longer be paid here. Refunds still
//! pending after ten minutes are asked about too
//! (`/v3/refund/domestic/refunds/{no}`) and settled from the answer, and so
//! are property-fee parts still pending after a minute and merchants'
//! payouts by WeChat transfer under way for ten.

use chrono::{DateTime, Duration, Utc};
use entity::{OrderStatus, order};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::json;

use super::WechatPay;
use super::answers::{Refund, Trade, TradeState};
use crate::config::Settings;
use crate::kernel::db::claim_and_stamp;
use crate::kernel::error::{ApiError, ApiResult};

/// How long after the prepay, and between two questions about one order.
const WAIT_SECS: i64 = 60;

/// What a sweep works with: the database, the settings, WeChat Pay.
#[derive(Clone, Copy)]
struct Sweep<'a> {
    db: &'a DatabaseConnection,
    settings: &'a Settings,
    pay: &'a WechatPay,
}

/// One sweep: returns how many orders and refunds were asked about. `pay`
/// is WeChat Pay when it is the configured provider (else nothing is asked).
pub async fn reconcile(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    now: DateTime<Utc>,
    batch: u32,
) -> ApiResult<usize> {
    let Some(pay) = pay else {
        return Ok(0);
    };
    let sweep = Sweep { db, settings, pay };
    let refunds = refunds(sweep, now, batch).await?;
    let fees = fee_payments(sweep, now, batch).await?;
    let transfers =
        crate::settlement::transfer::reconcile(db, settings, Some(pay), now, batch).await?;
    Ok(refunds + fees + transfers + payments(sweep, now, batch).await?)
}

/// Property-fee parts paid through WeChat Pay still pending a minute after
/// they were asked for: a lost notification is applied as the notification
/// would; one that can no longer be paid (the payment window passed) is
/// closed at WeChat Pay and here.
async fn fee_payments(sweep: Sweep<'_>, now: DateTime<Utc>, batch: u32) -> ApiResult<usize> {
    use entity::fee_payment;
    let before = now - Duration::seconds(WAIT_SECS);
    let ids = claim_and_stamp::<fee_payment::Entity>(
        sweep.db,
        "SELECT id FROM fee_payments WHERE status = 'pending' AND created_at < $1 \
         AND (checked_at IS NULL OR checked_at < $1) ORDER BY created_at LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
        fee_payment::Column::Id,
        fee_payment::Column::CheckedAt,
        now,
    )
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let found = fee_payment::Entity::find()
        .filter(fee_payment::Column::Id.is_in(ids))
        .all(sweep.db)
        .await?;
    let window = Duration::minutes(i64::from(sweep.settings.payment.unpaid_timeout_mins));
    for p in &found {
        // One payment's trouble must not hold up the others (or the orders').
        if let Err(e) = check_fee_payment(sweep, p, now, window).await {
            tracing::warn!(payment = %p.id, error = %e, "WeChat Pay reconciliation of a fee payment failed; retried next round");
        }
    }
    Ok(found.len())
}

async fn check_fee_payment(
    sweep: Sweep<'_>,
    p: &entity::fee_payment::Model,
    now: DateTime<Utc>,
    window: Duration,
) -> ApiResult<()> {
    use entity::{FeePaymentStatus, fee_payment};
    let Some(trade_no) = p.out_trade_no.as_deref() else {
        return Ok(());
    };
    let answer = sweep.pay.query(trade_no).await?;
    let close = match answer.trade_state {
        Some(TradeState::Success) => {
            // A payment without its amount matches no fee payment.
            let applied = match answer.amount.total {
                Some(total) => {
                    crate::fees::service::wechat_paid(sweep.db, sweep.settings, trade_no, total)
                        .await?
                }
                None => None,
            };
            match applied {
                Some(true) => {
                    tracing::info!(payment = %p.id, "WeChat Pay fee payment found by reconciliation")
                }
                _ => tracing::error!(payment = %p.id, total = ?answer.amount.total,
                    "WeChat Pay reports another amount for a fee payment"),
            }
            false
        }
        Some(TradeState::Closed | TradeState::Revoked) => true,
        Some(TradeState::Notpay | TradeState::Payerror) if p.created_at + window < now => {
            sweep.pay.close(trade_no).await?;
            true
        }
        _ => false,
    };
    if close {
        fee_payment::Entity::update_many()
            .col_expr(
                fee_payment::Column::Status,
                Expr::value(FeePaymentStatus::Closed),
            )
            .filter(fee_payment::Column::Id.eq(p.id))
            .filter(fee_payment::Column::Status.eq(FeePaymentStatus::Pending))
            .exec(sweep.db)
            .await?;
    }
    Ok(())
}

/// Refunds still pending ten minutes after they were decided (their
/// notification may be lost, or their request failed for good): asked about
/// at most once every ten minutes (`/v3/refund/domestic/refunds/{no}`). A
/// request that never reached WeChat Pay shows as a failed message in the
/// operators' outbox view, where it can be sent again.
async fn refunds(sweep: Sweep<'_>, now: DateTime<Utc>, batch: u32) -> ApiResult<usize> {
    let before = now - Duration::minutes(10);
    let ids = claim_and_stamp::<entity::refund::Entity>(
        sweep.db,
        "SELECT id FROM refunds WHERE status = 'pending' AND provider = 'wechat_pay' \
         AND created_at < $1 AND (checked_at IS NULL OR checked_at < $1) \
         ORDER BY created_at LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
        entity::refund::Column::Id,
        entity::refund::Column::CheckedAt,
        now,
    )
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let found = entity::refund::Entity::find()
        .filter(entity::refund::Column::Id.is_in(ids))
        .all(sweep.db)
        .await?;
    for r in &found {
        let outcome = match sweep.pay.query_refund(&r.id.to_string()).await {
            Ok(answer) => answer.status.and_then(|s| s.settled()),
            Err(e) => {
                tracing::warn!(refund = %r.id, error = %e, "asking WeChat Pay about a refund failed");
                None
            }
        };
        if let Some(succeeded) = outcome {
            crate::payment::service::refunds::refund_outcome(sweep.db, r.id, succeeded).await?;
        }
    }
    Ok(found.len())
}

/// Prepaid orders: a lost payment notification, or an order to close.
async fn payments(sweep: Sweep<'_>, now: DateTime<Utc>, batch: u32) -> ApiResult<usize> {
    let before = now - Duration::seconds(WAIT_SECS);
    let ids = claim_and_stamp::<order::Entity>(
        sweep.db,
        "SELECT id FROM orders WHERE prepaid_at IS NOT NULL AND pay_closed_at IS NULL \
         AND prepaid_at < $1 AND (pay_checked_at IS NULL OR pay_checked_at < $1) \
         ORDER BY pay_checked_at NULLS FIRST LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
        order::Column::Id,
        order::Column::PayCheckedAt,
        now,
    )
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(ids))
        .all(sweep.db)
        .await?;
    for o in &orders {
        if let Err(e) = check(sweep, o).await {
            tracing::warn!(order = %o.order_no, error = %e, "WeChat Pay reconciliation failed; retried next round");
        }
    }
    Ok(orders.len())
}

async fn check(sweep: Sweep<'_>, o: &order::Model) -> ApiResult<()> {
    let answer = sweep.pay.query(&o.order_no).await?;
    match answer.trade_state {
        Some(TradeState::Success) => {
            if answer.amount.total != Some(o.amount.as_i64()) {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "WeChat Pay reports {:?} paid for order {} of {}",
                    answer.amount.total,
                    o.order_no,
                    o.amount.as_i64()
                )));
            }
            let paid_at = super::notify::paid_time(answer.success_time.as_deref());
            // Paid just now by its notification, or it can no longer take
            // the money: then it goes straight back.
            crate::flows::payments::wechat_paid(sweep.db, sweep.settings, o.id, paid_at).await?;
            tracing::info!(order = %o.order_no, "WeChat Pay payment found by reconciliation");
            mark_closed(sweep.db, o).await
        }
        Some(TradeState::Closed | TradeState::Revoked) => mark_closed(sweep.db, o).await,
        Some(TradeState::Notpay | TradeState::Payerror)
            if o.status != OrderStatus::PendingPayment =>
        {
            sweep.pay.close(&o.order_no).await?;
            mark_closed(sweep.db, o).await
        }
        _ => Ok(()),
    }
}

/// Nothing more can arrive for this order: stop asking.
async fn mark_closed(db: &DatabaseConnection, o: &order::Model) -> ApiResult<()> {
    order::Entity::update_many()
        .col_expr(
            order::Column::PayClosedAt,
            Expr::value(crate::kernel::clock::now()),
        )
        .filter(order::Column::Id.eq(o.id))
        .exec(db)
        .await?;
    Ok(())
}

impl WechatPay {
    /// WeChat Pay's view of a payment (`/v3/pay/transactions/out-trade-no/{no}`).
    pub async fn query(&self, out_trade_no: &str) -> ApiResult<Trade> {
        self.call_as(
            reqwest::Method::GET,
            &format!(
                "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                self.settings.mch_id
            ),
            None,
        )
        .await
    }

    /// WeChat Pay's view of a refund (`/v3/refund/domestic/refunds/{no}`).
    pub async fn query_refund(&self, out_refund_no: &str) -> ApiResult<Refund> {
        self.call_as(
            reqwest::Method::GET,
            &format!("/v3/refund/domestic/refunds/{out_refund_no}"),
            None,
        )
        .await
    }

    /// Closes a payment at WeChat Pay so no payment can arrive for it.
    pub async fn close(&self, out_trade_no: &str) -> ApiResult<()> {
        self.call(
            reqwest::Method::POST,
            &format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close"),
            Some(json!({ "mchid": self.settings.mch_id })),
        )
        .await?;
        Ok(())
    }
}
