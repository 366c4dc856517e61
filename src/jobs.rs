//! Background sweeps: payment timeouts, group-buy deadlines, refunds of
//! failed and cancelled group buys, auto-confirmation, pickup reminders,
//! dispute escalation, settlement, payment reconciliation.
//!
//! Every instance may run them at once ([`run`], when `jobs.enabled`): rows
//! are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite
//! serialises writers), every move is a conditional update, and every
//! refund is keyed by its decision, so a sweep that is repeated, raced or
//! cut short changes nothing twice. [`sweep`] takes the time as an
//! argument, so tests drive it with the time they choose.

use chrono::{DateTime, Duration, Utc};
use entity::{OrderId, OrderStatus, order};
use sea_orm::EntityTrait;

use crate::flows::orders::advance;
use crate::kernel::db::{begin_write, claim_ids};
use crate::kernel::error::ApiResult;
use crate::orders::service::{Actor, MoveDetails};
use crate::state::AppState;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Unpaid orders past their payment deadline, released.
    pub expired: usize,
    /// Group buys past their deadline, closed or failed.
    pub deadlines: usize,
    /// Orders of failed or cancelled group buys, cancelled or refunded.
    pub settled: usize,
    /// Delivered orders confirmed after `payment.auto_confirm_days`.
    pub confirmed: usize,
    /// Pickup and slot reminders queued.
    pub reminders: usize,
    /// Confirmed orders settled to their merchants.
    pub settled_to_merchants: usize,
    /// Prepaid orders checked with WeChat Pay (lost notifications, closing).
    pub reconciled: usize,
    /// Disputes handed to customer service after
    /// `payment.dispute_escalation_days`.
    pub escalated: usize,
    /// Days of WeChat Pay's bills fetched (and their fees booked).
    pub bills: usize,
}

/// Moves the orders `select` claims to `to`, as the system, in one
/// transaction. Returns how many moved.
async fn move_claimed(
    state: &AppState,
    select: &str,
    values: Vec<sea_orm::Value>,
    to: OrderStatus,
    reason: &str,
) -> ApiResult<usize> {
    let txn = begin_write(&state.db).await?;
    let ids: Vec<OrderId> = claim_ids(&txn, select, values).await?;
    let mut moved = 0;
    for id in ids {
        let Some(o) = order::Entity::find_by_id(id).one(&txn).await? else {
            continue;
        };
        if !o.status.may_become(to) {
            continue;
        }
        advance(
            &txn,
            &state.settings,
            &o,
            to,
            Actor::SYSTEM,
            MoveDetails {
                reason: Some(reason.to_owned()),
                ..Default::default()
            },
        )
        .await?;
        moved += 1;
    }
    txn.commit().await?;
    Ok(moved)
}

/// One round of every sweep, as of `now`.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> ApiResult<SweepReport> {
    let batch = state.settings.jobs.batch_size;
    let mut report = SweepReport {
        expired: move_claimed(
            state,
            "SELECT id FROM orders WHERE status = 'pending_payment' AND payment_deadline < $1 \
             ORDER BY payment_deadline LIMIT $2",
            vec![now.into(), i64::from(batch).into()],
            OrderStatus::Expired,
            "not paid in time",
        )
        .await?,
        ..Default::default()
    };
    report.deadlines =
        crate::group_buys::service::sweep_deadlines(&state.db, &state.settings, now, batch).await?;
    report.settled =
        crate::flows::group_buys::settle_called_off(&state.db, &state.settings, batch).await?;
    let confirm_before = now - Duration::days(i64::from(state.settings.payment.auto_confirm_days));
    report.confirmed = move_claimed(
        state,
        "SELECT id FROM orders WHERE status IN ('dispatched', 'delivered') AND fulfilled_at < $1 \
         ORDER BY fulfilled_at LIMIT $2",
        vec![confirm_before.into(), i64::from(batch).into()],
        OrderStatus::Completed,
        "confirmed automatically",
    )
    .await?;
    report.reminders =
        crate::pickup::service::send_reminders(&state.db, &state.settings, &state.pii, now).await?;
    // Before settlement, so a dispute escalated now is never settled past.
    report.escalated =
        crate::disputes::service::escalate_due(&state.db, &state.settings, now, batch).await?;
    report.settled_to_merchants = crate::settlement::service::settle_due(
        &state.db,
        &state.settings.payment,
        now,
        state.settings.payment.settlement_batch,
    )
    .await?;
    report.reconciled = crate::payment::wechat_pay::reconcile::reconcile(
        &state.db,
        &state.settings,
        state.wechat_pay.as_deref(),
        now,
        batch,
    )
    .await?;
    if let Some(pay) = state.wechat_pay.as_deref() {
        report.bills = crate::payment::wechat_pay::bills::sweep(pay, &state.db, now).await?;
    }
    Ok(report)
}

/// The sweep loop: runs until the process ends. A round that found work
/// runs again at once.
pub async fn run(state: AppState) {
    let idle = std::time::Duration::from_millis(state.settings.jobs.interval_ms.max(10));
    loop {
        match sweep(&state, crate::kernel::clock::now()).await {
            Ok(r) if r != SweepReport::default() => {
                tracing::info!(?r, "sweep");
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e.message, "sweep failed"),
        }
        tokio::time::sleep(idle).await;
    }
}
