//! Parametric QR codes (带参数二维码): scanning one follows the service
//! account and sends anjia its scene. `inv:<user id>` invites a neighbour
//! (temporary, 30 days); `pp:<pickup point id>` is printed at a pickup point
//! (permanent). Codes are cached: asking again returns the same code while
//! it is valid, so WeChat's quota of permanent codes is not spent twice.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{CommunityId, PickupPointId, QrCodeId, UserId, pickup_point, wechat_qr_code};
use rand::RngCore;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::client::App;
use super::error::WechatError;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;

/// WeChat's longest temporary code.
const TEMPORARY_SECS: i64 = 30 * 24 * 3600;
/// A cached temporary code is handed out only while it has this long left.
const MIN_REMAINING: chrono::Duration = chrono::Duration::days(1);

#[derive(Debug, Serialize, ToSchema)]
pub struct QrCode {
    pub id: QrCodeId,
    pub scene: String,
    pub permanent: bool,
    /// What the code encodes (WeChat's `url`).
    pub content: String,
    /// WeChat's own image of the code.
    pub wechat_image_url: String,
    /// An SVG image of the code served by anjia.
    pub image_url: String,
    pub expires_at: Option<DateTime<Utc>>,
}

fn view(state: &AppState, m: wechat_qr_code::Model) -> QrCode {
    QrCode {
        wechat_image_url: format!(
            "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket={}",
            m.ticket
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D")
        ),
        image_url: format!(
            "{}/api/v1/wechat/qr-codes/{}/image",
            state.settings.server.public_base_url.trim_end_matches('/'),
            m.id
        ),
        id: m.id,
        scene: m.scene,
        permanent: m.permanent,
        content: m.url,
        expires_at: m.expires_at,
    }
}

/// Returns the cached code for `scene`, or creates one at WeChat.
async fn obtain(
    state: &AppState,
    scene: String,
    permanent: bool,
    community_id: Option<CommunityId>,
    by: UserId,
) -> ApiResult<wechat_qr_code::Model> {
    let now = clock::now();
    let cached = wechat_qr_code::Entity::find()
        .filter(wechat_qr_code::Column::Scene.eq(&scene))
        .filter(wechat_qr_code::Column::Permanent.eq(permanent))
        .order_by_desc(wechat_qr_code::Column::Id)
        .one(&state.db)
        .await?;
    let sandbox = state.wechat.sandbox(App::Service);
    if let Some(code) = cached
        && code.expires_at.is_none_or(|e| e > now + MIN_REMAINING)
        && code.ticket.starts_with("sandbox-") == sandbox
    {
        return Ok(code);
    }
    let (ticket, url, expires_at) = if sandbox {
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        let ticket = format!("sandbox-{}", hex::encode(raw));
        let url = format!("https://weixin.qq.com/q/{ticket}");
        (
            ticket,
            url,
            (!permanent).then(|| now + chrono::Duration::seconds(TEMPORARY_SECS)),
        )
    } else {
        let body = if permanent {
            json!({ "action_name": "QR_LIMIT_STR_SCENE", "action_info": { "scene": { "scene_str": scene } } })
        } else {
            json!({
                "expire_seconds": TEMPORARY_SECS,
                "action_name": "QR_STR_SCENE",
                "action_info": { "scene": { "scene_str": scene } },
            })
        };
        let answer = state
            .wechat
            .call(
                &state.db,
                App::Service,
                Method::POST,
                "/cgi-bin/qrcode/create",
                &[],
                Some(&body),
            )
            .await?;
        let text = |k: &str| answer.get(k).and_then(Value::as_str).map(str::to_owned);
        let ticket = text("ticket").ok_or_else(|| WechatError::Decode("no ticket".into()))?;
        let url = text("url").ok_or_else(|| WechatError::Decode("no url".into()))?;
        let expires_at = answer
            .get("expire_seconds")
            .and_then(Value::as_i64)
            .filter(|_| !permanent)
            .map(|s| now + chrono::Duration::seconds(s));
        (ticket, url, expires_at)
    };
    Ok(wechat_qr_code::ActiveModel {
        id: Set(QrCodeId::new()),
        scene: Set(scene),
        permanent: Set(permanent),
        community_id: Set(community_id),
        created_by: Set(by),
        ticket: Set(ticket),
        url: Set(url),
        expires_at: Set(expires_at),
        created_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

/// The caller's invitation code: neighbours who follow the account through
/// it are recorded as invited by the caller.
#[utoipa::path(post, path = "/api/v1/me/invite-qr", tag = "wechat",
    responses((status = 200, body = QrCode),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn invite_qr(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<QrCode>> {
    let code = obtain(
        &state,
        format!("inv:{}", caller.user.id),
        false,
        None,
        caller.user.id,
    )
    .await?;
    Ok(web::Json(view(&state, code)))
}

/// A pickup point's permanent code, to print and put up at the point.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/qr", tag = "wechat",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)),
    responses((status = 200, body = QrCode), (status = 404, body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn pickup_point_qr(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, PickupPointId)>,
) -> ApiResult<web::Json<QrCode>> {
    let (_, point_id) = path.into_inner();
    let point = pickup_point::Entity::find_by_id(point_id)
        .filter(pickup_point::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let code = obtain(
        &state,
        format!("pp:{}", point.id),
        true,
        Some(scope.id()),
        caller.user.id,
    )
    .await?;
    Ok(web::Json(view(&state, code)))
}

/// The code as an SVG image (public: it is meant to be printed and shared).
#[utoipa::path(get, path = "/api/v1/wechat/qr-codes/{qr_id}/image", tag = "wechat",
    params(("qr_id" = QrCodeId, Path)),
    responses((status = 200, description = "SVG", content_type = "image/svg+xml"), (status = 404, body = ErrorBody)))]
pub async fn qr_image(
    state: web::Data<AppState>,
    path: web::Path<QrCodeId>,
) -> ApiResult<HttpResponse> {
    let code = wechat_qr_code::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .filter(|c| c.expires_at.is_none_or(|e| e > clock::now()))
        .ok_or_else(ApiError::not_found)?;
    let qr = qrcode::QrCode::new(code.url.as_bytes())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    let svg = qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(svg))
}
