//! `POST /wechat/pay/notify`: WeChat Pay's payment result.
//!
//! The signature is checked over the raw body bytes with the key the
//! `Wechatpay-Serial` header names, the SIGNTEST probe and stale timestamps
//! are refused, the resource is decrypted with the APIv3 key, and merchant,
//! app, order and amount must all match before the payment is applied
//! through the same path as every provider's
//! (the payments flow, `flows/payments.rs`). A notification applied before
//! is acknowledged again without changing anything. Anything refused is
//! answered `4xx`/`5xx` with `{"code":"FAIL","message":…}` (WeChat retries),
//! and nothing is written.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{PaymentMethod, order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::crypto::{self, Resource, SignedHeaders};
use crate::kernel::clock;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    id: String,
    event_type: String,
    resource: Resource,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    appid: String,
    mchid: String,
    out_trade_no: String,
    #[serde(default)]
    transaction_id: String,
    trade_state: String,
    #[serde(default)]
    success_time: Option<String>,
    amount: Amount,
}

/// When WeChat Pay says the money was paid (now, if it does not say).
pub fn paid_time(success_time: Option<&str>) -> chrono::DateTime<chrono::Utc> {
    success_time
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(clock::now)
}

#[derive(Debug, Deserialize)]
struct Amount {
    total: i64,
    #[serde(default)]
    currency: String,
}

fn fail(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "code": "FAIL", "message": message }))
}

/// How a notification is refused: the status and the message for WeChat.
struct Refusal(StatusCode, String);

fn refuse(status: StatusCode, message: &str) -> Refusal {
    Refusal(status, message.to_owned())
}

impl Refusal {
    fn answer(self) -> HttpResponse {
        fail(self.0, &self.1)
    }
}

/// A notification whose signature verified and whose resource decrypted.
struct Opened {
    envelope: Envelope,
    plain: Vec<u8>,
}

/// Verifies and decrypts a notification, or says how to refuse it.
fn open(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<Opened, Refusal> {
    let Some(pay) = state.wechat_pay.as_ref() else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "WeChat Pay is not configured",
        ));
    };
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let headers = SignedHeaders {
        timestamp: header("Wechatpay-Timestamp"),
        nonce: header("Wechatpay-Nonce"),
        signature: header("Wechatpay-Signature"),
        serial: header("Wechatpay-Serial"),
    };
    if let Err(refused) = pay.platform.verify(
        &headers,
        body,
        clock::now().timestamp(),
        pay.settings.max_clock_skew_secs,
    ) {
        tracing::warn!(reason = %refused, "WeChat Pay notification refused");
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "the signature was refused",
        ));
    }
    let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, "WeChat Pay notification unreadable");
        refuse(StatusCode::BAD_REQUEST, "the notification cannot be read")
    })?;
    let plain = crypto::decrypt(&pay.api_v3_key, &envelope.resource).map_err(|refused| {
        tracing::warn!(id = %envelope.id, reason = %refused, "WeChat Pay notification refused");
        refuse(
            StatusCode::BAD_REQUEST,
            "the resource could not be decrypted",
        )
    })?;
    Ok(Opened { envelope, plain })
}

/// The merchant number and app must be ours.
fn ours(state: &AppState, id: &str, mchid: &str, appid: Option<&str>) -> Result<(), Refusal> {
    let Some(pay) = state.wechat_pay.as_ref() else {
        return Err(refuse(
            StatusCode::NOT_FOUND,
            "WeChat Pay is not configured",
        ));
    };
    if mchid != pay.settings.mch_id || appid.is_some_and(|a| a != pay.settings.app_id) {
        tracing::error!(
            id,
            mchid,
            ?appid,
            "WeChat Pay notification for another merchant or app"
        );
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the merchant or app does not match",
        ));
    }
    Ok(())
}

/// WeChat Pay's payment notification.
#[utoipa::path(post, path = "/wechat/pay/notify", tag = "wechat pay",
    request_body(content = String, content_type = "application/json",
        description = "WeChat Pay's signed notification (its resource is AEAD_AES_256_GCM encrypted)"),
    responses((status = 204, description = "Applied, or applied before"),
        (status = 400, description = "`FAIL`: unreadable, or merchant, app or amount do not match"),
        (status = 401, description = "`FAIL`: signature, serial or timestamp refused"),
        (status = 404, description = "`FAIL`: WeChat Pay is not configured here, or no such order"),
        (status = 500, description = "`FAIL`: not applied; WeChat retries")))]
pub async fn payment(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Opened { envelope, plain } = match open(&state, &req, &body) {
        Ok(o) => o,
        Err(refusal) => return refusal.answer(),
    };
    if envelope.event_type != "TRANSACTION.SUCCESS" {
        tracing::info!(id = %envelope.id, event = %envelope.event_type, "WeChat Pay notification ignored");
        return HttpResponse::NoContent().finish();
    }
    let tx: Transaction = match serde_json::from_slice(&plain) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(id = %envelope.id, error = %e, "WeChat Pay transaction unreadable");
            return fail(StatusCode::BAD_REQUEST, "the transaction cannot be read");
        }
    };
    if let Err(refusal) = ours(&state, &envelope.id, &tx.mchid, Some(&tx.appid)) {
        return refusal.answer();
    }
    if tx.trade_state != "SUCCESS" {
        return HttpResponse::NoContent().finish();
    }
    apply(&state, &tx).await
}

#[derive(Debug, Deserialize)]
struct RefundResult {
    mchid: String,
    out_refund_no: String,
    refund_status: String,
    amount: RefundAmount,
}

#[derive(Debug, Deserialize)]
struct RefundAmount {
    refund: i64,
}

/// WeChat Pay's refund notification: a pending refund succeeded, closed or
/// went abnormal.
#[utoipa::path(post, path = "/wechat/pay/refund-notify", tag = "wechat pay",
    request_body(content = String, content_type = "application/json",
        description = "WeChat Pay's signed refund notification (resource AEAD_AES_256_GCM encrypted)"),
    responses((status = 204, description = "Applied, or applied before"),
        (status = 400, description = "`FAIL`: unreadable, or merchant or amount do not match"),
        (status = 401, description = "`FAIL`: signature, serial or timestamp refused"),
        (status = 404, description = "`FAIL`: WeChat Pay is not configured here, or no such refund"),
        (status = 500, description = "`FAIL`: not applied; WeChat retries")))]
pub async fn refund(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Opened { envelope, plain } = match open(&state, &req, &body) {
        Ok(o) => o,
        Err(refusal) => return refusal.answer(),
    };
    let result: RefundResult = match serde_json::from_slice(&plain) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(id = %envelope.id, error = %e, "WeChat Pay refund result unreadable");
            return fail(StatusCode::BAD_REQUEST, "the refund result cannot be read");
        }
    };
    if let Err(refusal) = ours(&state, &envelope.id, &result.mchid, None) {
        return refusal.answer();
    }
    let found = match result.out_refund_no.parse::<entity::RefundId>() {
        Ok(id) => entity::refund::Entity::find_by_id(id).one(&state.db).await,
        Err(_) => Ok(None),
    };
    let r = match found {
        Ok(Some(r)) => r,
        Ok(None) => {
            tracing::error!(out_refund_no = %result.out_refund_no, "WeChat Pay reports a refund anjia does not know");
            return fail(StatusCode::NOT_FOUND, "no such refund");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the refund of a WeChat Pay notification");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry");
        }
    };
    if result.amount.refund != r.amount.as_i64() {
        tracing::error!(refund = %r.id, reported = result.amount.refund, decided = r.amount.as_i64(),
            "WeChat Pay reports a different refund amount");
        return fail(
            StatusCode::BAD_REQUEST,
            "the amount does not match the refund",
        );
    }
    let succeeded = match result.refund_status.as_str() {
        "SUCCESS" => true,
        "CLOSED" | "ABNORMAL" => false,
        _ => return HttpResponse::NoContent().finish(),
    };
    match crate::payment::refund_outcome(&state.db, r.id, succeeded).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(e) => {
            tracing::error!(refund = %r.id, error = %e, "applying a WeChat Pay refund result");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry")
        }
    }
}

#[derive(Debug, Deserialize)]
struct TransferResult {
    mch_id: String,
    out_bill_no: String,
}

/// WeChat Pay's merchant-transfer notification: a merchant's payout
/// succeeded, failed or was cancelled.
#[utoipa::path(post, path = "/wechat/pay/transfer-notify", tag = "wechat pay",
    request_body(content = String, content_type = "application/json",
        description = "WeChat Pay's signed transfer notification (resource AEAD_AES_256_GCM encrypted)"),
    responses((status = 204, description = "Applied, or applied before"),
        (status = 400, description = "`FAIL`: unreadable, or another merchant"),
        (status = 401, description = "`FAIL`: signature, serial or timestamp refused"),
        (status = 404, description = "`FAIL`: WeChat Pay is not configured here, or no such withdrawal"),
        (status = 500, description = "`FAIL`: not applied; WeChat retries")))]
pub async fn transfer(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Opened { envelope, plain } = match open(&state, &req, &body) {
        Ok(o) => o,
        Err(refusal) => return refusal.answer(),
    };
    let (result, report): (TransferResult, serde_json::Value) = match (
        serde_json::from_slice(&plain),
        serde_json::from_slice(&plain),
    ) {
        (Ok(r), Ok(v)) => (r, v),
        _ => {
            tracing::warn!(id = %envelope.id, "WeChat Pay transfer result unreadable");
            return fail(
                StatusCode::BAD_REQUEST,
                "the transfer result cannot be read",
            );
        }
    };
    if let Err(refusal) = ours(&state, &envelope.id, &result.mch_id, None) {
        return refusal.answer();
    }
    let Ok(id) = crate::settlement::transfer::withdrawal_of(&result.out_bill_no) else {
        return fail(StatusCode::NOT_FOUND, "no such withdrawal");
    };
    match entity::withdrawal::Entity::find_by_id(id)
        .one(&state.db)
        .await
    {
        Ok(Some(_)) => {}
        Ok(None) => return fail(StatusCode::NOT_FOUND, "no such withdrawal"),
        Err(e) => {
            tracing::error!(error = %e, "reading the withdrawal of a WeChat Pay transfer notification");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry");
        }
    }
    match crate::settlement::transfer::record(&state.db, &state.settings, id, &report).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => {
            tracing::error!(withdrawal = %id, error = %e, "applying a WeChat Pay transfer result");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry")
        }
    }
}

/// A property-fee payment (its trade number starts with
/// [`crate::fees::TRADE_PREFIX`]).
async fn apply_fee(state: &AppState, tx: &Transaction) -> HttpResponse {
    if !tx.amount.currency.is_empty() && tx.amount.currency != "CNY" {
        return fail(StatusCode::BAD_REQUEST, "the currency is not CNY");
    }
    match crate::fees::wechat_paid(
        &state.db,
        &state.settings,
        &tx.out_trade_no,
        tx.amount.total,
    )
    .await
    {
        Ok(Some(true)) => HttpResponse::NoContent().finish(),
        Ok(Some(false)) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, paid = tx.amount.total,
                "WeChat Pay reports a different amount than the fee payment's");
            fail(
                StatusCode::BAD_REQUEST,
                "the amount does not match the payment",
            )
        }
        Ok(None) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, "WeChat Pay paid a fee payment anjia does not know");
            fail(StatusCode::NOT_FOUND, "no such payment")
        }
        Err(e) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, error = %e, "applying a WeChat Pay fee payment");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry")
        }
    }
}

async fn apply(state: &AppState, tx: &Transaction) -> HttpResponse {
    if tx.out_trade_no.starts_with(crate::fees::TRADE_PREFIX) {
        return apply_fee(state, tx).await;
    }
    let found = order::Entity::find()
        .filter(order::Column::OrderNo.eq(tx.out_trade_no.as_str()))
        .one(&state.db)
        .await;
    let order = match found {
        Ok(Some(o)) => o,
        Ok(None) => {
            tracing::error!(out_trade_no = %tx.out_trade_no, "WeChat Pay paid an order anjia does not know");
            return fail(StatusCode::NOT_FOUND, "no such order");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the order of a WeChat Pay notification");
            return fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry");
        }
    };
    if tx.amount.total != order.amount.as_i64()
        || (!tx.amount.currency.is_empty() && tx.amount.currency != "CNY")
    {
        tracing::error!(order = %order.order_no, paid = tx.amount.total, due = order.amount.as_i64(),
            "WeChat Pay reports a different amount than the order's");
        return fail(
            StatusCode::BAD_REQUEST,
            "the amount does not match the order",
        );
    }
    let paid_at = paid_time(tx.success_time.as_deref());
    let outcome = crate::flows::payments::record_paid(
        &state.db,
        &state.settings,
        order.id,
        PaymentMethod::WechatPay,
        paid_at,
    )
    .await;
    match outcome {
        Ok(_) => {
            tracing::info!(order = %order.order_no, transaction = %tx.transaction_id, "WeChat Pay payment applied");
            HttpResponse::NoContent().finish()
        }
        Err(e) if let Some(why) = crate::orders::service::refused_payment(e.code) => {
            // Another copy applied it just now, or the money came for an
            // order that can no longer take it: then it goes straight back.
            match crate::flows::payments::late_payment(
                &state.db,
                &state.settings,
                order.id,
                PaymentMethod::WechatPay,
                why,
                paid_at,
            )
            .await
            {
                Ok(late) => {
                    if late {
                        tracing::warn!(order = %order.order_no, transaction = %tx.transaction_id,
                            "WeChat Pay payment for a closed order: refunded");
                    }
                    HttpResponse::NoContent().finish()
                }
                Err(e) => {
                    tracing::error!(order = %order.order_no, error = %e, "applying a late WeChat Pay payment");
                    fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry")
                }
            }
        }
        Err(e) => {
            tracing::error!(order = %order.order_no, error = %e, "applying a WeChat Pay payment");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "not applied; retry")
        }
    }
}
