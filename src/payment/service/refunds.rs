//! Refunds: recorded once per decision in the caller's transaction, sent to
//! WeChat Pay by the outbox, settled by WeChat Pay's answer, its refund
//! notification or a status query; and, for finance, the community's
//! refunds and retrying one WeChat Pay could not make.
//!
//! A refund is recorded under a key that names the decision
//! (`order:<id>:full`), so a decision replayed by a retry or by a second
//! sweeper never refunds twice. It posts to the escrow ledger
//! ([`crate::ledger`]) in the same transaction: out of the community's
//! escrow, into refunds in flight, then to where the money goes.

use std::collections::HashMap;
use std::sync::Arc;

use entity::{
    CommunityId, Fen, JournalKind, OrderId, PaymentMethod, RefundId, RefundStatus, RefundTo, order,
    refund,
};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::config::{PaymentProvider, Settings};
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};
use crate::payment::views::CommunityRefund;
use crate::payment::wechat_pay::{self, answers::RefundState};

/// The name of the provider refunds go through.
fn provider_name(settings: &Settings) -> &'static str {
    match settings.payment.provider {
        PaymentProvider::Sandbox => "sandbox",
        PaymentProvider::WechatPay => "wechat_pay",
    }
}

/// Records a refund of `amount` for `order`, once per `decision`, back the
/// way it was paid. See [`refund_to`].
pub async fn refund<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    amount: Fen,
    reason: &str,
    decision: &str,
) -> ApiResult<bool> {
    refund_to(
        db,
        settings,
        order,
        amount,
        reason,
        decision,
        RefundTo::Original,
    )
    .await
}

/// Records a refund of `amount` for `order`, once per `decision`, to `to`.
/// Returns `true` when this call recorded it, `false` when the decision had
/// already been recorded. Runs in the caller's transaction; the resident is
/// told through the outbox. A refund to the wallet completes at once; one
/// through WeChat Pay is sent by the outbox worker.
pub async fn refund_to<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    amount: Fen,
    reason: &str,
    decision: &str,
    to: RefundTo,
) -> ApiResult<bool> {
    if amount == Fen::ZERO {
        return Ok(false);
    }
    let to_wallet = to == RefundTo::Wallet || order.payment_method == Some(PaymentMethod::Wallet);
    let now = clock::now();
    // The sandbox completes at once; WeChat Pay starts `pending` and
    // completes from its refund notification or a status query.
    let (status, completed_at) = match settings.payment.provider {
        _ if to_wallet => (RefundStatus::Succeeded, Some(now)),
        PaymentProvider::Sandbox => (RefundStatus::Succeeded, Some(now)),
        PaymentProvider::WechatPay => (RefundStatus::Pending, None),
    };
    // A decision recorded before is not recorded again (and its money may
    // have left escrow already).
    if refund::Entity::find()
        .filter(refund::Column::IdempotencyKey.eq(decision))
        .one(db)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    let held = ledger::escrow_of(db, order.community_id, order.id).await?;
    if held < amount.as_i64() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "refund of {amount} for order {} refused: escrow holds {held} fen",
            order.order_no
        )));
    }
    let reason: String = reason.chars().take(200).collect();
    let refund_id = RefundId::new();
    let inserted = refund::Entity::insert(refund::ActiveModel {
        id: sea_orm::Set(refund_id),
        order_id: sea_orm::Set(order.id),
        amount: sea_orm::Set(amount),
        reason: sea_orm::Set(reason.clone()),
        idempotency_key: sea_orm::Set(decision.to_owned()),
        provider: sea_orm::Set(
            if to_wallet {
                "wallet"
            } else {
                provider_name(settings)
            }
            .to_owned(),
        ),
        status: sea_orm::Set(status),
        created_at: sea_orm::Set(now),
        completed_at: sea_orm::Set(completed_at),
        checked_at: sea_orm::Set(None),
    })
    .on_conflict(
        OnConflict::column(refund::Column::IdempotencyKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    ledger::post(
        db,
        Entry::new(
            JournalKind::RefundDecided,
            format!("refund:{refund_id}:decided"),
        )
        .order(order.community_id, order.id)
        .subject(refund_id)
        .memo(&reason)
        .debit(Account::escrow(order.community_id), amount)
        .credit(Account::refunds_in_flight(), amount),
    )
    .await?;
    match settings.payment.provider {
        _ if to_wallet => {
            let wallet = Account::household_wallet(order.household_id);
            refund_succeeded(db, order, refund_id, amount, wallet).await?
        }
        PaymentProvider::Sandbox => {
            refund_succeeded(db, order, refund_id, amount, Account::wechat_clearing()).await?
        }
        PaymentProvider::WechatPay => {
            // Sent by the outbox worker, retried until WeChat Pay takes it.
            crate::outbox::service::pay_refund(
                db,
                order.user_id,
                &settings.wechat_pay.app_id,
                serde_json::json!({
                    "out_trade_no": order.order_no,
                    "out_refund_no": refund_id.to_string(),
                    "reason": reason.chars().take(80).collect::<String>(),
                    "notify_url": settings.wechat_pay.refund_notify_url,
                    "amount": {
                        "refund": amount.as_i64(),
                        "total": order.amount.as_i64(),
                        "currency": "CNY",
                    },
                }),
                format!("refund {amount} of order {}", order.order_no),
            )
            .await?;
        }
    }
    crate::outbox::service::notify(
        db,
        settings,
        order.user_id,
        "refund_done",
        &[
            ("order_no", order.order_no.clone()),
            ("amount", amount.yuan()),
        ],
    )
    .await?;
    Ok(true)
}

/// Sends the WeChat Pay refunds the outbox queued ([`pay_refund`](crate::outbox::service::pay_refund))
/// and records the provider's answer: `SUCCESS`, `CLOSED` or `ABNORMAL`
/// settles the refund at once; `PROCESSING` waits for the refund
/// notification. Registered with the outbox worker at startup.
pub struct RefundSender {
    pub pay: Option<Arc<wechat_pay::WechatPay>>,
}

impl crate::outbox::ChannelSender for RefundSender {
    fn send<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        request: &'a serde_json::Value,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(send_refund(self.pay.as_deref(), db, request))
    }
}

async fn send_refund(
    pay: Option<&wechat_pay::WechatPay>,
    db: &DatabaseConnection,
    request: &serde_json::Value,
) -> ApiResult<()> {
    let Some(pay) = pay else {
        return Err(ApiError::new(
            ErrorCode::PaymentUnavailable,
            "a WeChat Pay refund is queued but WeChat Pay is not configured",
        ));
    };
    let answer = pay.refund(request).await?;
    let refund_id: RefundId = request["out_refund_no"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("queued refund without out_refund_no"))
        })?;
    if let Some(succeeded) = answer.status.and_then(RefundState::settled) {
        refund_outcome(db, refund_id, succeeded).await?;
    }
    Ok(())
}

/// Records the provider's outcome of a pending refund, once: paid back (the
/// money leaves the clearing account) or failed (it is held in escrow again,
/// for the property to resolve). Returns `true` when this call recorded it.
pub async fn refund_outcome(
    db: &DatabaseConnection,
    refund_id: RefundId,
    succeeded: bool,
) -> ApiResult<bool> {
    let txn = begin_write(db).await?;
    let now = clock::now();
    let moved = refund::Entity::update_many()
        .col_expr(
            refund::Column::Status,
            Expr::value(if succeeded {
                RefundStatus::Succeeded
            } else {
                RefundStatus::Failed
            }),
        )
        .col_expr(refund::Column::CompletedAt, Expr::value(now))
        .filter(refund::Column::Id.eq(refund_id))
        .filter(refund::Column::Status.eq(RefundStatus::Pending))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved == 0 {
        txn.rollback().await?;
        return Ok(false);
    }
    let Some(r) = refund::Entity::find_by_id(refund_id).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    let Some(order) = order::Entity::find_by_id(r.order_id).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    if succeeded {
        refund_succeeded(
            &txn,
            &order,
            refund_id,
            r.amount,
            Account::wechat_clearing(),
        )
        .await?;
    } else {
        tracing::error!(refund = %refund_id, order = %order.order_no,
            "WeChat Pay could not refund; the money is held in escrow again");
        ledger::post(
            &txn,
            Entry::new(
                JournalKind::RefundFailed,
                format!("refund:{refund_id}:failed"),
            )
            .order(order.community_id, order.id)
            .subject(refund_id)
            .debit(Account::refunds_in_flight(), r.amount)
            .credit(Account::escrow(order.community_id), r.amount),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Records that a refund reached `to`: the property's clearing account
/// (the provider paid it back) or the household's wallet.
async fn refund_succeeded<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    refund: RefundId,
    amount: Fen,
    to: Account,
) -> ApiResult<()> {
    ledger::post(
        db,
        Entry::new(
            JournalKind::RefundSucceeded,
            format!("refund:{refund}:succeeded"),
        )
        .order(order.community_id, order.id)
        .subject(refund)
        .memo(if to.kind == entity::LedgerAccountKind::HouseholdWallet {
            "into the household's wallet"
        } else {
            "paid back by the provider"
        })
        .debit(Account::refunds_in_flight(), amount)
        .credit(to, amount),
    )
    .await?;
    Ok(())
}

/// Refunds recorded for an order, oldest first.
pub async fn refunds_of<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
) -> ApiResult<Vec<refund::Model>> {
    Ok(refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order))
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?)
}

/// The community's refunds, newest first (at most 500), only those in
/// `status` when it is given.
pub async fn community_refunds<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    status: Option<RefundStatus>,
) -> ApiResult<Vec<CommunityRefund>> {
    let orders_here = sea_orm::sea_query::Query::select()
        .column(order::Column::Id)
        .from(order::Entity)
        .and_where(order::Column::CommunityId.eq(community))
        .to_owned();
    let mut select =
        refund::Entity::find().filter(refund::Column::OrderId.in_subquery(orders_here));
    if let Some(s) = status {
        select = select.filter(refund::Column::Status.eq(s));
    }
    let refunds = select
        .order_by_desc(refund::Column::Id)
        .limit(500)
        .all(db)
        .await?;
    let numbers: HashMap<OrderId, String> = order::Entity::find()
        .filter(order::Column::Id.is_in(refunds.iter().map(|r| r.order_id)))
        .select_only()
        .column(order::Column::Id)
        .column(order::Column::OrderNo)
        .into_tuple::<(OrderId, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(refunds
        .into_iter()
        .map(|r| {
            let no = numbers.get(&r.order_id).cloned().unwrap_or_default();
            CommunityRefund::new(r, no)
        })
        .collect())
}

/// Decides a failed refund of the community again: a new refund of the
/// same amount, to `to`; the failed one is marked `retried`.
pub async fn retry(
    db: &DatabaseConnection,
    settings: &Settings,
    community: CommunityId,
    refund_id: RefundId,
    to: RefundTo,
) -> ApiResult<CommunityRefund> {
    let txn = begin_write(db).await?;
    let Some(failed) = refund::Entity::find_by_id(refund_id).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    // The order's row first, as every refund path takes it.
    let o = order::Entity::find_by_id(failed.order_id)
        .filter(order::Column::CommunityId.eq(community))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    db::guarded(
        &txn,
        refund::Entity::update_many()
            .col_expr(refund::Column::Status, Expr::value(RefundStatus::Retried))
            .filter(refund::Column::Id.eq(failed.id))
            .filter(refund::Column::Status.eq(RefundStatus::Failed)),
        ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "only a failed refund can be retried; this one is {}",
                failed.status
            ),
        ),
    )
    .await?;
    let key = format!("retry:{}", failed.id);
    refund_to(
        &txn,
        settings,
        &o,
        failed.amount,
        &format!("retry: {}", failed.reason),
        &key,
        to,
    )
    .await?;
    let made = refund::Entity::find()
        .filter(refund::Column::IdempotencyKey.eq(key))
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("retried refund not recorded")))?;
    txn.commit().await?;
    Ok(CommunityRefund::new(made, o.order_no))
}
