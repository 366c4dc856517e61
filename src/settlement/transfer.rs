//! Payouts by WeChat Pay's merchant transfer (商家转账), when
//! `wechat_pay.transfer_scene_id` is set: approving a withdrawal queues a
//! transfer to the requesting owner's WeChat (through the outbox, so a crash
//! never loses it); the owner confirms receipt in the mini-program
//! (`wx.requestMerchantTransfer` with the withdrawal's `transfer_package`);
//! WeChat Pay's result (the answer, the notification to
//! `/wechat/pay/transfer-notify`, or reconciliation's query) pays the
//! withdrawal out or, if the transfer failed or was cancelled, rejects it
//! and the amount is available again. Without the setting, an owner without
//! a mini-program sign-in, or for 2,000 yuan or more (WeChat then wants the
//! payee's verified name), finance pay by bank transfer and record it.

use entity::{WithdrawalId, WithdrawalStatus, withdrawal};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger;
use crate::payment::wechat_pay::WechatPay;
use crate::payment::wechat_pay::answers::TransferReport;
use crate::settlement::payouts;
use futures_util::future::BoxFuture;
use std::sync::Arc;

/// Transfers from this amount (fen) need the payee's name: bank transfer.
pub const NAMED_FROM: i64 = 200_000;

/// The transfer client, when merchant transfers are configured (`pay` is
/// WeChat Pay when it is the configured provider).
pub fn configured(pay: Option<&WechatPay>) -> Option<&WechatPay> {
    pay.filter(|p| !p.settings.transfer_scene_id.trim().is_empty())
}

/// WeChat Pay's `out_bill_no` of a withdrawal (32 hex digits).
pub fn bill_no(id: WithdrawalId) -> String {
    id.as_uuid().simple().to_string()
}

/// Queues the transfer of an approved withdrawal, in the caller's
/// transaction, when transfers are configured and can carry it. Returns
/// whether it was queued.
pub async fn queue<C: ConnectionTrait>(
    db: &C,
    pay: Option<&WechatPay>,
    w: &withdrawal::Model,
) -> ApiResult<bool> {
    let Some(pay) = configured(pay) else {
        return Ok(false);
    };
    if w.amount.as_i64() >= NAMED_FROM {
        return Ok(false);
    }
    let Ok(openid) =
        crate::payment::wechat_pay::payer_openid(db, w.requested_by, &pay.settings.app_id).await
    else {
        return Ok(false);
    };
    let s = &pay.settings;
    let request = json!({
        "appid": s.app_id,
        "out_bill_no": bill_no(w.id),
        "transfer_scene_id": s.transfer_scene_id,
        "openid": openid,
        "transfer_amount": w.amount.as_i64(),
        "transfer_remark": "社区商户结算提现",
        "notify_url": s.transfer_notify_url,
        "transfer_scene_report_infos": s.transfer_report_infos.iter()
            .map(|(t, c)| json!({ "info_type": t, "info_content": c }))
            .collect::<Vec<_>>(),
    });
    crate::outbox::service::pay_transfer(
        db,
        w.requested_by,
        &s.app_id,
        request,
        format!("payout {} to merchant {}", w.amount, w.merchant_id),
    )
    .await?;
    withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::TransferState, Expr::value("queued"))
        .filter(withdrawal::Column::Id.eq(w.id))
        .exec(db)
        .await?;
    Ok(true)
}

/// Sends the merchant transfers the outbox queued and records WeChat Pay's
/// answer. Registered with the outbox worker at startup.
pub struct TransferSender {
    pub pay: Option<Arc<WechatPay>>,
    pub settings: Arc<Settings>,
}

impl crate::outbox::ChannelSender for TransferSender {
    fn send<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        request: &'a Value,
    ) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let Some(pay) = self.pay.as_ref() else {
                return Err(ApiError::new(
                    ErrorCode::PaymentUnavailable,
                    "a WeChat transfer is queued but WeChat Pay is not configured",
                ));
            };
            let answer: TransferReport = pay
                .call_as(
                    reqwest::Method::POST,
                    "/v3/fund-app/mch-transfer/transfer-bills",
                    Some(request.clone()),
                )
                .await?;
            let id = withdrawal_of(request["out_bill_no"].as_str().unwrap_or_default())?;
            record(db, &self.settings, id, &answer).await?;
            Ok(())
        })
    }
}

/// The withdrawal a transfer's `out_bill_no` names.
pub fn withdrawal_of(bill_no: &str) -> ApiResult<WithdrawalId> {
    bill_no.parse().map_err(|_| {
        ApiError::internal(anyhow::anyhow!(
            "a transfer names no withdrawal: {bill_no:?}"
        ))
    })
}

/// Applies what WeChat Pay says about a transfer (its answer, its
/// notification or a query): success pays the withdrawal out, failure or
/// cancellation rejects it, anything else is kept as the transfer's state
/// (with the package the payee confirms with).
pub async fn record(
    db: &DatabaseConnection,
    settings: &Settings,
    id: WithdrawalId,
    report: &TransferReport,
) -> ApiResult<()> {
    let state = report.state.as_str();
    let bill = report.transfer_bill_no.clone();
    match state {
        "SUCCESS" => finish(db, settings, id, state, Ok(bill.unwrap_or_default())).await,
        "FAIL" | "CANCELLED" => {
            let why = report.fail_reason.as_deref().unwrap_or(state);
            finish(
                db,
                settings,
                id,
                state,
                Err(format!("WeChat transfer {why}")),
            )
            .await
        }
        "" => Ok(()),
        _ => {
            let mut update = withdrawal::Entity::update_many()
                .col_expr(withdrawal::Column::TransferState, Expr::value(state))
                .col_expr(withdrawal::Column::UpdatedAt, Expr::value(clock::now()));
            if let Some(bill) = bill {
                update = update.col_expr(withdrawal::Column::TransferBillNo, Expr::value(bill));
            }
            if let Some(package) = report.package_info.as_deref() {
                update = update.col_expr(withdrawal::Column::TransferPackage, Expr::value(package));
            }
            update
                .filter(withdrawal::Column::Id.eq(id))
                .filter(withdrawal::Column::Status.eq(WithdrawalStatus::Approved))
                .exec(db)
                .await?;
            Ok(())
        }
    }
}

/// The end of a transfer, once: paid out (the money leaves the property's
/// account) or rejected (the amount is the merchant's to ask for again).
async fn finish(
    db: &DatabaseConnection,
    settings: &Settings,
    id: WithdrawalId,
    state: &str,
    outcome: Result<String, String>,
) -> ApiResult<()> {
    let now = clock::now();
    let txn = begin_write(db).await?;
    let Some(w) = withdrawal::Entity::find_by_id(id).one(&txn).await? else {
        return Err(ApiError::not_found());
    };
    let allocations = payouts::allocations_of(&txn, w.id).await?;
    let (to, entry, status_word) = match &outcome {
        Ok(bill) => (
            WithdrawalStatus::Paid,
            payouts::ending(
                &w,
                &allocations,
                true,
                &format!("paid out by WeChat transfer {bill}"),
            )?,
            "paid",
        ),
        Err(why) => (
            WithdrawalStatus::Rejected,
            payouts::ending(&w, &allocations, false, why)?,
            "rejected",
        ),
    };
    let mut update = withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::TransferState, Expr::value(state))
        .col_expr(
            withdrawal::Column::TransferPackage,
            Expr::value(Option::<String>::None),
        )
        .col_expr(withdrawal::Column::UpdatedAt, Expr::value(now));
    update = match &outcome {
        Ok(bill) => update
            .col_expr(withdrawal::Column::PaidAt, Expr::value(now))
            .col_expr(
                withdrawal::Column::TransferBillNo,
                Expr::value(bill.clone()),
            )
            .col_expr(
                withdrawal::Column::PayoutReference,
                Expr::value(bill.clone()),
            ),
        Err(why) => update.col_expr(
            withdrawal::Column::Reason,
            Expr::value(why.chars().take(200).collect::<String>()),
        ),
    };
    let moved = db::transition(
        &txn,
        update.filter(withdrawal::Column::Id.eq(id)),
        withdrawal::Column::Status,
        WithdrawalStatus::Approved,
        to,
    )
    .await;
    match moved {
        Ok(()) => {}
        // Told before (a copy of the notification, or the answer and the
        // notification both): the withdrawal is no longer approved.
        Err(e) if e.code == ErrorCode::InvalidTransition => {
            txn.rollback().await?;
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    ledger::post(&txn, entry).await?;
    crate::outbox::service::notify(
        &txn,
        settings,
        w.requested_by,
        "withdrawal_update",
        &[
            ("amount", w.amount.yuan()),
            ("status", status_word.to_owned()),
        ],
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Approved withdrawals whose transfer has been under way for ten minutes
/// without an end: asked about at most every ten minutes
/// (`…/transfer-bills/out-bill-no/{no}`). Returns how many were asked.
pub async fn reconcile(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    now: chrono::DateTime<chrono::Utc>,
    batch: u32,
) -> ApiResult<usize> {
    let Some(pay) = configured(pay) else {
        return Ok(0);
    };
    let before = now - chrono::Duration::minutes(10);
    let ids = crate::kernel::db::claim_and_stamp::<withdrawal::Entity>(
        db,
        "SELECT id FROM withdrawals WHERE status = 'approved' AND transfer_state IS NOT NULL \
         AND updated_at < $1 AND (transfer_checked_at IS NULL OR transfer_checked_at < $1) \
         ORDER BY updated_at LIMIT $2",
        vec![before.into(), i64::from(batch).into()],
        withdrawal::Column::Id,
        withdrawal::Column::TransferCheckedAt,
        now,
    )
    .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    for id in &ids {
        let id = WithdrawalId::from_uuid(*id);
        let asked: ApiResult<TransferReport> = pay
            .call_as(
                reqwest::Method::GET,
                &format!(
                    "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{}",
                    bill_no(id)
                ),
                None,
            )
            .await;
        let outcome = match asked {
            Ok(report) => record(db, settings, id, &report).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            tracing::warn!(withdrawal = %id, error = %e, "asking WeChat Pay about a transfer failed; retried later");
        }
    }
    Ok(ids.len())
}
