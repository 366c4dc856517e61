//! WeChat Pay's notifications over HTTP: `POST /wechat/pay/notify` (a
//! payment's result), `/wechat/pay/refund-notify`, `/wechat/pay/transfer-notify`.
//! The signature is the authorization ([`super::notify`] checks it). An
//! acknowledged notification is answered `204`; a refused one `4xx`/`5xx`
//! with `{"code":"FAIL","message":…}`, and WeChat retries.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::crypto::SignedHeaders;
use super::notify::{self, Outcome};
use crate::state::AppState;

/// The signature headers of a notification.
fn signed_headers(req: &HttpRequest) -> SignedHeaders<'_> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    SignedHeaders {
        timestamp: header("Wechatpay-Timestamp"),
        nonce: header("Wechatpay-Nonce"),
        signature: header("Wechatpay-Signature"),
        serial: header("Wechatpay-Serial"),
    }
}

/// WeChat Pay's answer: `204`, or the refusal as `{"code":"FAIL",…}`.
fn answer(outcome: Outcome) -> HttpResponse {
    match outcome {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(refusal) => HttpResponse::build(
            StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .json(serde_json::json!({ "code": "FAIL", "message": refusal.message() })),
    }
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
    answer(
        crate::flows::payments::wechat_notified(
            &state.db,
            &state.settings,
            state.wechat_pay.as_deref(),
            &signed_headers(&req),
            &body,
        )
        .await,
    )
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
    answer(
        notify::refund(
            &state.db,
            state.wechat_pay.as_deref(),
            &signed_headers(&req),
            &body,
        )
        .await,
    )
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
    answer(
        notify::transfer(
            &state.db,
            &state.settings,
            state.wechat_pay.as_deref(),
            &signed_headers(&req),
            &body,
        )
        .await,
    )
}
