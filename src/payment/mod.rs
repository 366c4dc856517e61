//! The payment port: how an order's money comes in and goes back.
//!
//! Orders and group buys call only this module. Today it has one provider,
//! `sandbox` (development: no money moves); the WeChat Pay provider and the
//! escrow ledger plug in here without touching the callers.
//!
//! - A payment is applied by [`crate::orders::service::record_paid`], the one
//!   internal path that both the sandbox's "pay" call and (later) a verified
//!   WeChat Pay notification take.
//! - [`refund`] records a refund in the caller's transaction under a key that
//!   names the decision (`order:<id>:full`), so a decision replayed by a
//!   retry or by a second sweeper never refunds twice.

use entity::{Fen, RefundId, RefundStatus, order, refund};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::clock;
use crate::config::{Environment, PaymentProvider, Settings};
use crate::error::{ApiError, ApiResult, ErrorCode};

/// What the resident's client needs to complete a payment.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum PaymentStart {
    /// The sandbox took the payment at once: the order is paid.
    Sandbox,
}

/// Whether payments can be taken at all with this configuration.
pub fn check_available(settings: &Settings) -> ApiResult<()> {
    match settings.payment.provider {
        PaymentProvider::Sandbox if settings.environment == Environment::Production => {
            Err(ApiError::new(
                ErrorCode::PaymentUnavailable,
                "payments are not configured on this server (sandbox payments are refused in production)",
            ))
        }
        PaymentProvider::Sandbox => Ok(()),
    }
}

/// The name of the provider refunds go through.
fn provider_name(settings: &Settings) -> &'static str {
    match settings.payment.provider {
        PaymentProvider::Sandbox => "sandbox",
    }
}

/// Records a refund of `amount` for `order`, once per `decision`. Returns
/// `true` when this call recorded it, `false` when the decision had already
/// been recorded. Runs in the caller's transaction; the resident is told
/// through the outbox.
pub async fn refund<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    amount: Fen,
    reason: &str,
    decision: &str,
) -> ApiResult<bool> {
    if amount == Fen::ZERO {
        return Ok(false);
    }
    let now = clock::now();
    // The sandbox completes at once; a real provider will start `pending`
    // and complete from its notification.
    let (status, completed_at) = match settings.payment.provider {
        PaymentProvider::Sandbox => (RefundStatus::Succeeded, Some(now)),
    };
    let reason: String = reason.chars().take(200).collect();
    let inserted = refund::Entity::insert(refund::ActiveModel {
        id: sea_orm::Set(RefundId::new()),
        order_id: sea_orm::Set(order.id),
        amount: sea_orm::Set(amount),
        reason: sea_orm::Set(reason),
        idempotency_key: sea_orm::Set(decision.to_owned()),
        provider: sea_orm::Set(provider_name(settings).to_owned()),
        status: sea_orm::Set(status),
        created_at: sea_orm::Set(now),
        completed_at: sea_orm::Set(completed_at),
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
    crate::outbox::notify(
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

/// Refunds recorded for an order, oldest first.
pub async fn refunds_of<C: ConnectionTrait>(
    db: &C,
    order: entity::OrderId,
) -> ApiResult<Vec<refund::Model>> {
    use sea_orm::QueryOrder;
    Ok(refund::Entity::find()
        .filter(refund::Column::OrderId.eq(order))
        .order_by_asc(refund::Column::Id)
        .all(db)
        .await?)
}
