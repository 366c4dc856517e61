//! What the payment port's routes take and answer.

use chrono::{DateTime, Utc};
use entity::{Fen, HouseholdId, JournalKind, OrderId, RefundId, RefundStatus, RefundTo, refund};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::wechat_pay::RequestPayment;

/// What the resident's client needs to complete a payment.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum PaymentStart {
    /// The sandbox took the payment at once: the order is paid.
    Sandbox,
    /// The household's wallet paid at once: the order is paid.
    Wallet,
    /// Call `wx.requestPayment` with these; the order is paid when WeChat
    /// Pay's notification arrives (poll the order or wait for the message).
    WechatPay { request_payment: RequestPayment },
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityRefund {
    pub id: RefundId,
    pub order_id: OrderId,
    pub order_no: String,
    /// Fen.
    pub amount: Fen,
    pub reason: String,
    /// `sandbox`, `wechat_pay` or `wallet`.
    pub provider: String,
    pub status: RefundStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl CommunityRefund {
    /// A refund of the order numbered `order_no`.
    pub fn new(r: refund::Model, order_no: String) -> Self {
        Self {
            id: r.id,
            order_id: r.order_id,
            order_no,
            amount: r.amount,
            reason: r.reason,
            provider: r.provider,
            status: r.status,
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundFilter {
    /// `failed`: the ones waiting for finance.
    pub status: Option<RefundStatus>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRetry {
    /// `original` (default): try the way it was paid again; `wallet`: into
    /// the household's wallet, which cannot fail.
    #[serde(default)]
    pub refund_to: RefundTo,
}

/// One movement of a wallet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletMovement {
    pub at: DateTime<Utc>,
    pub kind: JournalKind,
    /// Fen: positive into the wallet, negative out of it.
    pub amount: i64,
    pub order_id: Option<OrderId>,
    pub memo: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Wallet {
    pub household_id: HouseholdId,
    /// Fen.
    pub balance: Fen,
    /// The latest 50 movements, newest first.
    pub movements: Vec<WalletMovement>,
}
