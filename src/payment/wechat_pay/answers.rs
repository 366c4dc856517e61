//! WeChat Pay's answers and notifications as typed values: what anjia
//! reads of each, and nothing it guesses. A field WeChat Pay may leave out
//! is an `Option`; a state anjia does not act on reads as `Other`.

use serde::Deserialize;

/// The answer to a JSAPI prepay (`/v3/pay/transactions/jsapi`).
#[derive(Debug, Deserialize)]
pub struct Prepay {
    pub prepay_id: Option<String>,
}

/// A payment's state (`trade_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeState {
    Success,
    Closed,
    Revoked,
    Notpay,
    Payerror,
    #[serde(other)]
    Other,
}

/// A payment's amount.
#[derive(Debug, Default, Deserialize)]
pub struct TradeAmount {
    pub total: Option<i64>,
    #[serde(default)]
    pub currency: String,
}

/// WeChat Pay's view of a payment (`/v3/pay/transactions/out-trade-no/{no}`).
#[derive(Debug, Deserialize)]
pub struct Trade {
    pub trade_state: Option<TradeState>,
    #[serde(default)]
    pub amount: TradeAmount,
    pub success_time: Option<String>,
}

/// A refund's state (`status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundState {
    Success,
    Closed,
    Abnormal,
    #[serde(other)]
    Other,
}

impl RefundState {
    /// Whether the refund ended: `Some(true)` paid back, `Some(false)`
    /// closed or abnormal (the money is held again), `None` still under way.
    pub fn settled(self) -> Option<bool> {
        match self {
            Self::Success => Some(true),
            Self::Closed | Self::Abnormal => Some(false),
            Self::Other => None,
        }
    }
}

/// The answer to a refund request or query (`/v3/refund/domestic/refunds`).
#[derive(Debug, Deserialize)]
pub struct Refund {
    pub status: Option<RefundState>,
}

/// What WeChat Pay says of a merchant transfer (its answer, its
/// notification, a query).
#[derive(Debug, Default, Deserialize)]
pub struct TransferReport {
    /// `SUCCESS`, `FAIL`, `CANCELLED`, or a state on the way
    /// (`ACCEPTED`, `WAIT_USER_CONFIRM`, …).
    #[serde(default)]
    pub state: String,
    pub transfer_bill_no: Option<String>,
    pub fail_reason: Option<String>,
    /// What the payee confirms receipt with.
    pub package_info: Option<String>,
}

/// The answer to a bill request (`/v3/bill/tradebill`, `/v3/bill/fundflowbill`):
/// where to download it, or why there is none.
#[derive(Debug, Deserialize)]
pub struct BillLink {
    /// WeChat's refusal (`NO_STATEMENT_EXIST`, `STATEMENT_CREATING`, …).
    pub code: Option<String>,
    pub download_url: Option<String>,
    pub hash_type: Option<String>,
    pub hash_value: Option<String>,
}
