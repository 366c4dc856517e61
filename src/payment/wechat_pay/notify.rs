//! WeChat Pay's notifications: a payment's result, a refund's, a merchant
//! transfer's.
//!
//! Each is opened the same way ([`open`]): the signature is checked over
//! the raw body bytes with the key the `Wechatpay-Serial` header names, the
//! SIGNTEST probe and stale timestamps are refused, the resource is
//! decrypted with the APIv3 key, and the merchant (and app) must be ours.
//! A payment is applied by the payments flow (`flows/payments.rs`), the
//! same path as every provider's; a refund's and a transfer's results here.
//! A notification applied before is acknowledged again without changing
//! anything. Anything refused is a [`Refusal`] (WeChat retries), and
//! nothing is written.

use entity::RefundId;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::WechatPay;
use super::answers::{RefundState, TradeState, TransferReport};
use super::crypto::{self, Resource, SignedHeaders};
use crate::config::Settings;
use crate::kernel::clock;

/// Why a notification is not acknowledged; WeChat Pay sends it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 404: WeChat Pay is not configured here, or it names nothing anjia knows.
    NotFound(&'static str),
    /// 401: the signature, serial or timestamp was refused.
    Unauthorized(&'static str),
    /// 400: unreadable, or it does not match what anjia holds.
    BadRequest(&'static str),
    /// 500: not applied (the database failed); WeChat retries.
    NotApplied,
}

impl Refusal {
    /// The HTTP status WeChat Pay is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::Unauthorized(_) => 401,
            Self::BadRequest(_) => 400,
            Self::NotApplied => 500,
        }
    }

    /// The message of the `{"code":"FAIL","message":…}` answer.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound(m) | Self::Unauthorized(m) | Self::BadRequest(m) => m,
            Self::NotApplied => "not applied; retry",
        }
    }
}

/// What a notification handler answers: acknowledged (applied now, before,
/// or nothing to apply) or refused.
pub type Outcome = Result<(), Refusal>;

const NOT_CONFIGURED: Refusal = Refusal::NotFound("WeChat Pay is not configured");

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    id: String,
    event_type: String,
    resource: Resource,
}

/// A notification whose signature verified and whose resource decrypted.
pub struct Opened<'p> {
    pub pay: &'p WechatPay,
    /// The notification's id, for the log.
    pub id: String,
    pub event_type: String,
    plain: Vec<u8>,
}

/// Verifies and decrypts a notification: the preamble every notification
/// takes.
pub fn open<'p>(
    pay: Option<&'p WechatPay>,
    headers: &SignedHeaders<'_>,
    body: &[u8],
) -> Result<Opened<'p>, Refusal> {
    let pay = pay.ok_or(NOT_CONFIGURED)?;
    if let Err(refused) = pay.platform.verify(
        headers,
        body,
        clock::now().timestamp(),
        pay.settings.max_clock_skew_secs,
    ) {
        tracing::warn!(reason = %refused, "WeChat Pay notification refused");
        return Err(Refusal::Unauthorized("the signature was refused"));
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, "WeChat Pay notification unreadable");
        Refusal::BadRequest("the notification cannot be read")
    })?;
    let plain = crypto::decrypt(&pay.api_v3_key, &envelope.resource).map_err(|refused| {
        tracing::warn!(id = %envelope.id, reason = %refused, "WeChat Pay notification refused");
        Refusal::BadRequest("the resource could not be decrypted")
    })?;
    Ok(Opened {
        pay,
        id: envelope.id,
        event_type: envelope.event_type,
        plain,
    })
}

impl Opened<'_> {
    /// The decrypted resource as `T`; `unreadable` is the refusal when it
    /// does not read.
    pub fn read<T: DeserializeOwned>(&self, unreadable: &'static str) -> Result<T, Refusal> {
        serde_json::from_slice(&self.plain).map_err(|e| {
            tracing::warn!(id = %self.id, error = %e, "WeChat Pay notification's resource unreadable");
            Refusal::BadRequest(unreadable)
        })
    }

    /// The merchant number (and the app, when the resource names one)
    /// must be ours.
    pub fn ours(&self, mchid: &str, appid: Option<&str>) -> Outcome {
        let s = &self.pay.settings;
        if mchid != s.mch_id || appid.is_some_and(|a| a != s.app_id) {
            tracing::error!(
                id = %self.id,
                mchid,
                ?appid,
                "WeChat Pay notification for another merchant or app"
            );
            return Err(Refusal::BadRequest("the merchant or app does not match"));
        }
        Ok(())
    }
}

/// A payment's result, as its notification tells it.
#[derive(Debug, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: String,
    pub trade_state: TradeState,
    #[serde(default)]
    pub success_time: Option<String>,
    pub amount: Amount,
}

/// A notified payment's amount.
#[derive(Debug, Deserialize)]
pub struct Amount {
    pub total: i64,
    #[serde(default)]
    pub currency: String,
}

impl Amount {
    /// Yuan, when WeChat Pay names the currency at all.
    pub fn in_cny(&self) -> bool {
        self.currency.is_empty() || self.currency == "CNY"
    }
}

/// When WeChat Pay says the money was paid (now, if it does not say).
pub fn paid_time(success_time: Option<&str>) -> chrono::DateTime<chrono::Utc> {
    success_time
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(clock::now)
}

/// A payment notification opened and checked: the payment to apply, or
/// `None` when there is nothing to apply (another event, or a trade not
/// successful).
pub fn payment(
    pay: Option<&WechatPay>,
    headers: &SignedHeaders<'_>,
    body: &[u8],
) -> Result<Option<Transaction>, Refusal> {
    let opened = open(pay, headers, body)?;
    if opened.event_type != "TRANSACTION.SUCCESS" {
        tracing::info!(id = %opened.id, event = %opened.event_type, "WeChat Pay notification ignored");
        return Ok(None);
    }
    let tx: Transaction = opened.read("the transaction cannot be read")?;
    opened.ours(&tx.mchid, Some(&tx.appid))?;
    Ok((tx.trade_state == TradeState::Success).then_some(tx))
}

#[derive(Debug, Deserialize)]
struct RefundResult {
    mchid: String,
    out_refund_no: String,
    refund_status: RefundState,
    amount: RefundAmount,
}

#[derive(Debug, Deserialize)]
struct RefundAmount {
    refund: i64,
}

/// A refund notification: a pending refund succeeded, closed or went
/// abnormal.
pub async fn refund(
    db: &DatabaseConnection,
    pay: Option<&WechatPay>,
    headers: &SignedHeaders<'_>,
    body: &[u8],
) -> Outcome {
    let opened = open(pay, headers, body)?;
    let result: RefundResult = opened.read("the refund result cannot be read")?;
    opened.ours(&result.mchid, None)?;
    let found = match result.out_refund_no.parse::<RefundId>() {
        Ok(id) => entity::refund::Entity::find_by_id(id).one(db).await,
        Err(_) => Ok(None),
    };
    let r = match found {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::error!(out_refund_no = %result.out_refund_no, "WeChat Pay reports a refund anjia does not know");
            return Err(Refusal::NotFound("no such refund"));
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the refund of a WeChat Pay notification");
            return Err(Refusal::NotApplied);
        }
    };
    if result.amount.refund != r.amount.as_i64() {
        tracing::error!(refund = %r.id, reported = result.amount.refund, decided = r.amount.as_i64(),
            "WeChat Pay reports a different refund amount");
        return Err(Refusal::BadRequest("the amount does not match the refund"));
    }
    let Some(succeeded) = result.refund_status.settled() else {
        return Ok(());
    };
    match crate::payment::service::refunds::refund_outcome(db, r.id, succeeded).await {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(refund = %r.id, error = %e, "applying a WeChat Pay refund result");
            Err(Refusal::NotApplied)
        }
    }
}

#[derive(Debug, Deserialize)]
struct TransferResult {
    mch_id: String,
    out_bill_no: String,
    #[serde(flatten)]
    report: TransferReport,
}

/// A merchant-transfer notification: a merchant's payout succeeded, failed
/// or was cancelled.
pub async fn transfer(
    db: &DatabaseConnection,
    settings: &Settings,
    pay: Option<&WechatPay>,
    headers: &SignedHeaders<'_>,
    body: &[u8],
) -> Outcome {
    let opened = open(pay, headers, body)?;
    let result: TransferResult = opened.read("the transfer result cannot be read")?;
    opened.ours(&result.mch_id, None)?;
    let Ok(id) = crate::settlement::transfer::withdrawal_of(&result.out_bill_no) else {
        return Err(Refusal::NotFound("no such withdrawal"));
    };
    match entity::withdrawal::Entity::find_by_id(id).one(db).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Refusal::NotFound("no such withdrawal")),
        Err(e) => {
            tracing::error!(error = %e, "reading the withdrawal of a WeChat Pay transfer notification");
            return Err(Refusal::NotApplied);
        }
    }
    match crate::settlement::transfer::record(db, settings, id, &result.report).await {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::error!(withdrawal = %id, error = %e, "applying a WeChat Pay transfer result");
            Err(Refusal::NotApplied)
        }
    }
}
