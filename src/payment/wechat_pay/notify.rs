//! `POST /wechat/pay/notify`: WeChat Pay's payment result.
//!
//! The signature is checked over the raw body bytes with the key the
//! `Wechatpay-Serial` header names, the SIGNTEST probe and stale timestamps
//! are refused, the resource is decrypted with the APIv3 key, and merchant,
//! app, order and amount must all match before the payment is applied
//! through the same path as every provider's
//! ([`crate::orders::service::record_paid`]). A notification applied before
//! is acknowledged again without changing anything. Anything refused is
//! answered `4xx`/`5xx` with `{"code":"FAIL","message":…}` (WeChat retries),
//! and nothing is written.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{PaymentMethod, order};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;

use super::crypto::{self, Resource, SignedHeaders};
use crate::clock;
use crate::error::ErrorCode;
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
    amount: Amount,
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
    let Some(pay) = state.wechat_pay.as_ref() else {
        return fail(StatusCode::NOT_FOUND, "WeChat Pay is not configured");
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
        &body,
        clock::now().timestamp(),
        pay.settings.max_clock_skew_secs,
    ) {
        tracing::warn!(reason = %refused, "WeChat Pay notification refused");
        return fail(StatusCode::UNAUTHORIZED, &refused.to_string());
    }
    let envelope: Envelope = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "WeChat Pay notification unreadable");
            return fail(StatusCode::BAD_REQUEST, "the notification cannot be read");
        }
    };
    let plain = match crypto::decrypt(&pay.api_v3_key, &envelope.resource) {
        Ok(p) => p,
        Err(refused) => {
            tracing::warn!(id = %envelope.id, reason = %refused, "WeChat Pay notification refused");
            return fail(StatusCode::BAD_REQUEST, &refused.to_string());
        }
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
    if tx.mchid != pay.settings.mch_id || tx.appid != pay.settings.app_id {
        tracing::error!(id = %envelope.id, mchid = %tx.mchid, appid = %tx.appid,
            "WeChat Pay notification for another merchant or app");
        return fail(
            StatusCode::BAD_REQUEST,
            "the merchant or app does not match",
        );
    }
    if tx.trade_state != "SUCCESS" {
        return HttpResponse::NoContent().finish();
    }
    apply(&state, &tx).await
}

async fn apply(state: &AppState, tx: &Transaction) -> HttpResponse {
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
    let outcome = crate::orders::service::record_paid(
        &state.db,
        &state.settings,
        order.id,
        PaymentMethod::WechatPay,
    )
    .await;
    match outcome {
        Ok(_) => {
            tracing::info!(order = %order.order_no, transaction = %tx.transaction_id, "WeChat Pay payment applied");
            HttpResponse::NoContent().finish()
        }
        Err(e)
            if matches!(
                e.code,
                ErrorCode::InvalidTransition
                    | ErrorCode::PaymentDeadlinePassed
                    | ErrorCode::GroupBuyNotOpen
            ) =>
        {
            // Another copy applied it just now, or the money came for an
            // order that can no longer take it: then it goes straight back.
            match crate::payment::late_payment(
                &state.db,
                &state.settings,
                order.id,
                PaymentMethod::WechatPay,
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
