//! The WeChat Pay API v3 client: every request is signed with the
//! merchant's key and every answer's signature is verified with WeChat's
//! keys before it is read. JSAPI / mini-program prepay, refunds, and the
//! calls the other parts make (queries, closing, transfers, bills).

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use entity::order;
use rand::Rng;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::answers;
use super::crypto::{self, MerchantKey, PlatformKeys, SignedHeaders};
use crate::config::{PaymentProvider, Settings, WechatPaySettings};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// The provider: the merchant's key, WeChat's keys, the APIv3 key.
pub struct WechatPay {
    pub settings: WechatPaySettings,
    merchant: MerchantKey,
    pub platform: PlatformKeys,
    pub api_v3_key: [u8; 32],
    http: reqwest::Client,
}

/// Keys stay out of logs.
impl std::fmt::Debug for WechatPay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatPay")
            .field("mch_id", &self.settings.mch_id)
            .field("app_id", &self.settings.app_id)
            .field("api_base", &self.settings.api_base)
            .finish_non_exhaustive()
    }
}

/// What the client passes to `wx.requestPayment` (field names as WeChat
/// spells them).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestPayment {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=…`
    pub package: String,
    /// Always `RSA`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

impl WechatPay {
    /// The provider when `payment.provider = "wechat_pay"`: reads the key
    /// files named in `[wechat_pay]`.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Arc<Self>>> {
        if settings.payment.provider != PaymentProvider::WechatPay {
            return Ok(None);
        }
        let s = &settings.wechat_pay;
        let read = |what: &str, path: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("wechat_pay.{what} ({path}): {e}"))
        };
        let merchant = MerchantKey::from_pem(
            &s.mch_id,
            &s.merchant_serial_no,
            &read("merchant_private_key_path", &s.merchant_private_key_path)?,
        )?;
        let mut platform = PlatformKeys::default();
        if !s.platform_public_key_path.trim().is_empty() {
            platform.add_public_key(
                &s.platform_public_key_id,
                &read("platform_public_key_path", &s.platform_public_key_path)?,
            )?;
        }
        for path in &s.platform_certificate_paths {
            platform.add_certificate(&read("platform_certificate_paths", path)?)?;
        }
        Ok(Some(Arc::new(Self {
            settings: s.clone(),
            merchant,
            platform,
            api_v3_key: crypto::api_v3_key(s.api_v3_key.expose_secret())?,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
        })))
    }

    /// Creates the prepay order at WeChat (`/v3/pay/transactions/jsapi`)
    /// for the order's own amount, expiring at its payment deadline, and
    /// signs the parameters the client needs.
    pub async fn prepay_jsapi(
        &self,
        order: &order::Model,
        openid: &str,
        description: &str,
    ) -> ApiResult<RequestPayment> {
        self.prepay(
            &order.order_no,
            order.amount,
            order.payment_deadline,
            openid,
            description,
        )
        .await
    }

    /// JSAPI prepay of `amount` under `out_trade_no`, payable until
    /// `expires`: the signed parameters for `wx.requestPayment`.
    pub async fn prepay(
        &self,
        out_trade_no: &str,
        amount: entity::Fen,
        expires: chrono::DateTime<chrono::Utc>,
        openid: &str,
        description: &str,
    ) -> ApiResult<RequestPayment> {
        let body = json!({
            "appid": self.settings.app_id,
            "mchid": self.settings.mch_id,
            "description": description.chars().take(127).collect::<String>(),
            "out_trade_no": out_trade_no,
            "time_expire": time_expire(expires),
            "notify_url": self.settings.notify_url,
            "amount": { "total": amount.as_i64(), "currency": "CNY" },
            "payer": { "openid": openid },
        });
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/jsapi",
                Some(body),
            )
            .await?;
        let prepay_id = serde_json::from_value::<answers::Prepay>(answer.clone())
            .ok()
            .and_then(|a| a.prepay_id)
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::WechatUnavailable,
                    "WeChat Pay did not return a prepay id; try again",
                )
                .with_cause(anyhow::anyhow!("prepay answer without prepay_id: {answer}"))
            })?;
        let time_stamp = clock::now().timestamp();
        let nonce_str = nonce();
        let package = format!("prepay_id={prepay_id}");
        Ok(RequestPayment {
            pay_sign: self
                .merchant
                .pay_sign(&self.settings.app_id, time_stamp, &nonce_str, &package)
                .map_err(ApiError::internal)?,
            app_id: self.settings.app_id.clone(),
            time_stamp: time_stamp.to_string(),
            nonce_str,
            package,
            sign_type: "RSA".to_owned(),
        })
    }

    /// Asks WeChat Pay to refund (`/v3/refund/domestic/refunds`). The same
    /// `out_refund_no` sent again names the same refund, so retries are safe.
    /// Returns WeChat's answer (its `status`: `SUCCESS`, `PROCESSING`,
    /// `CLOSED` or `ABNORMAL`).
    pub async fn refund(&self, request: &serde_json::Value) -> ApiResult<answers::Refund> {
        self.call_as(
            reqwest::Method::POST,
            "/v3/refund/domestic/refunds",
            Some(request.clone()),
        )
        .await
    }

    /// [`call`](Self::call), its answer read as `T`; an answer that does
    /// not read is `wechat_unavailable` with the answer logged.
    pub(crate) async fn call_as<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> ApiResult<T> {
        let value = self.call(method, path, body).await?;
        serde_json::from_value(value.clone()).map_err(|e| {
            ApiError::new(
                ErrorCode::WechatUnavailable,
                "WeChat Pay's answer cannot be read; try again later",
            )
            .with_cause(anyhow::anyhow!("{path} answered {value}: {e}"))
        })
    }

    /// One signed call; the answer's signature is verified before its body
    /// is read. WeChat's own errors (`{"code","message"}`) become
    /// `wechat_unavailable` with the cause logged.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> ApiResult<serde_json::Value> {
        let (status, value) = self.call_verified(method, path, body).await?;
        if !status.is_success() {
            return Err(ApiError::new(
                ErrorCode::WechatUnavailable,
                "WeChat Pay refused the request; try again later",
            )
            .with_cause(anyhow::anyhow!("{path} answered {status}: {value}")));
        }
        Ok(value)
    }

    /// One signed call whose answer's signature verified, with its status:
    /// for callers that tell WeChat's refusals apart (`{"code": …}`).
    pub(crate) async fn call_verified(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> ApiResult<(reqwest::StatusCode, serde_json::Value)> {
        let text = body.as_ref().map(|b| b.to_string()).unwrap_or_default();
        let authorization = self
            .merchant
            .authorization(
                method.as_str(),
                path,
                clock::now().timestamp(),
                &nonce(),
                &text,
            )
            .map_err(ApiError::internal)?;
        let url = format!("{}{path}", self.settings.api_base.trim_end_matches('/'));
        let mut request = self
            .http
            .request(method, &url)
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .header("User-Agent", "anjia");
        if body.is_some() {
            request = request
                .header("Content-Type", "application/json")
                .body(text);
        }
        let unavailable = |cause: anyhow::Error| {
            ApiError::new(
                ErrorCode::WechatUnavailable,
                "WeChat Pay cannot be reached; try again",
            )
            .with_cause(cause)
        };
        let response = request
            .send()
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("calling {path}: {e}")))?;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (timestamp, nonce, signature, serial) = (
            header("Wechatpay-Timestamp"),
            header("Wechatpay-Nonce"),
            header("Wechatpay-Signature"),
            header("Wechatpay-Serial"),
        );
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("reading {path}: {e}")))?;
        self.platform
            .verify(
                &SignedHeaders {
                    timestamp: &timestamp,
                    nonce: &nonce,
                    signature: &signature,
                    serial: &serial,
                },
                &bytes,
                clock::now().timestamp(),
                self.settings.max_clock_skew_secs,
            )
            .map_err(|e| {
                unavailable(anyhow::anyhow!(
                    "WeChat Pay's answer to {path} ({status}) failed verification: {e}"
                ))
            })?;
        let value: serde_json::Value = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| unavailable(anyhow::anyhow!("{path} answered non-JSON: {e}")))?
        };
        Ok((status, value))
    }

    /// Downloads a bill from the `download_url` WeChat Pay gave: the request
    /// is signed; the answer is not (WeChat Pay does not sign bill files),
    /// so the caller checks its digest. Only a URL of `wechat_pay.api_base`
    /// is followed.
    pub(crate) async fn download(&self, url: &str) -> ApiResult<Vec<u8>> {
        let base = self.settings.api_base.trim_end_matches('/');
        let unavailable = |cause: anyhow::Error| {
            ApiError::new(
                ErrorCode::WechatUnavailable,
                "WeChat Pay's bill cannot be downloaded; try again",
            )
            .with_cause(cause)
        };
        let Some(path) = url.strip_prefix(base).filter(|p| p.starts_with('/')) else {
            return Err(unavailable(anyhow::anyhow!(
                "a bill's download URL {url:?} is not on {base}"
            )));
        };
        let authorization = self
            .merchant
            .authorization("GET", path, clock::now().timestamp(), &nonce(), "")
            .map_err(ApiError::internal)?;
        let response = self
            .http
            .get(url)
            .header("Authorization", authorization)
            .header("User-Agent", "anjia")
            .send()
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("downloading a bill: {e}")))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| unavailable(anyhow::anyhow!("reading a bill: {e}")))?;
        if !status.is_success() {
            return Err(unavailable(anyhow::anyhow!(
                "the bill download answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        Ok(bytes.to_vec())
    }
}

/// The payer's openid in the paying app (the mini-program sign-in), or
/// how to get one.
pub async fn payer_openid<C: sea_orm::ConnectionTrait>(
    db: &C,
    user: entity::UserId,
    app_id: &str,
) -> ApiResult<String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::wechat_identity::Entity::find()
        .filter(entity::wechat_identity::Column::UserId.eq(user))
        .filter(entity::wechat_identity::Column::AppId.eq(app_id))
        .one(db)
        .await?
        .map(|i| i.openid)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::PaymentUnavailable,
                "WeChat Pay needs your WeChat sign-in: open the mini-program and sign in first",
            )
        })
}

/// `time_expire` as WeChat Pay wants it (RFC 3339, seconds).
fn time_expire(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// 32 random characters.
fn nonce() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
