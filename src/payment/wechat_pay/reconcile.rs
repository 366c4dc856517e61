//! Reconciliation with WeChat Pay: a notification can be lost, and an order
//! that timed out here can still be open there. Every sweep claims a batch of
//! prepaid orders not yet closed at WeChat Pay (skipping rows another
//! instance holds, and each at most once a minute), asks WeChat Pay about
//! each (`/v3/pay/transactions/out-trade-no/{no}`), applies a payment it
//! reports exactly as a notification would, and closes at WeChat Pay
//! (`…/close`) the orders that can no longer be paid here.

use chrono::{DateTime, Duration, Utc};
use entity::{OrderStatus, PaymentMethod, order};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use crate::db::{begin_write, claim_ids};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

/// How long after the prepay, and between two questions about one order.
const WAIT_SECS: i64 = 60;

/// One sweep: returns how many orders were asked about.
pub async fn reconcile(state: &AppState, now: DateTime<Utc>, batch: u32) -> ApiResult<usize> {
    let Some(pay) = state.wechat_pay.clone() else {
        return Ok(0);
    };
    let before = now - Duration::seconds(WAIT_SECS);
    let txn = begin_write(&state.db).await?;
    let ids: Vec<uuid::Uuid> = claim_ids(
        &txn,
        "SELECT id FROM orders WHERE prepaid_at IS NOT NULL AND pay_closed_at IS NULL \
         AND prepaid_at < $1 AND (pay_checked_at IS NULL OR pay_checked_at < $1) \
         ORDER BY pay_checked_at NULLS FIRST LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
    )
    .await?;
    if ids.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    order::Entity::update_many()
        .col_expr(order::Column::PayCheckedAt, Expr::value(now))
        .filter(order::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let orders = order::Entity::find()
        .filter(order::Column::Id.is_in(ids))
        .all(&state.db)
        .await?;
    for o in &orders {
        if let Err(e) = check(state, &pay, o).await {
            tracing::warn!(order = %o.order_no, error = %e, "WeChat Pay reconciliation failed; retried next round");
        }
    }
    Ok(orders.len())
}

async fn check(state: &AppState, pay: &super::WechatPay, o: &order::Model) -> ApiResult<()> {
    let answer = pay.query(&o.order_no).await?;
    let trade_state = answer["trade_state"].as_str().unwrap_or_default();
    match trade_state {
        "SUCCESS" => {
            if answer["amount"]["total"].as_i64() != Some(o.amount.as_i64()) {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "WeChat Pay reports {} paid for order {} of {}",
                    answer["amount"]["total"],
                    o.order_no,
                    o.amount.as_i64()
                )));
            }
            let outcome = crate::orders::service::record_paid(
                &state.db,
                &state.settings,
                o.id,
                PaymentMethod::WechatPay,
                super::notify::paid_time(answer["success_time"].as_str()),
            )
            .await;
            match outcome {
                Ok(_) => {}
                // Paid just now by its notification, or it can no longer
                // take the money: then it goes straight back.
                Err(e)
                    if matches!(
                        e.code,
                        ErrorCode::InvalidTransition
                            | ErrorCode::PaymentDeadlinePassed
                            | ErrorCode::GroupBuyNotOpen
                    ) =>
                {
                    crate::payment::late_payment(
                        &state.db,
                        &state.settings,
                        o.id,
                        PaymentMethod::WechatPay,
                    )
                    .await?;
                }
                Err(e) => return Err(e),
            }
            tracing::info!(order = %o.order_no, "WeChat Pay payment found by reconciliation");
            mark_closed(state, o).await
        }
        "CLOSED" | "REVOKED" => mark_closed(state, o).await,
        "NOTPAY" | "PAYERROR" if o.status != OrderStatus::PendingPayment => {
            pay.close(&o.order_no).await?;
            mark_closed(state, o).await
        }
        _ => Ok(()),
    }
}

/// Nothing more can arrive for this order: stop asking.
async fn mark_closed(state: &AppState, o: &order::Model) -> ApiResult<()> {
    order::Entity::update_many()
        .col_expr(order::Column::PayClosedAt, Expr::value(crate::clock::now()))
        .filter(order::Column::Id.eq(o.id))
        .exec(&state.db)
        .await?;
    Ok(())
}

impl super::WechatPay {
    /// WeChat Pay's view of a payment (`/v3/pay/transactions/out-trade-no/{no}`).
    pub async fn query(&self, out_trade_no: &str) -> ApiResult<serde_json::Value> {
        self.call(
            reqwest::Method::GET,
            &format!(
                "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
                self.settings.mch_id
            ),
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
