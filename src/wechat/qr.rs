//! Parametric QR codes (带参数二维码): scanning one follows the service
//! account and sends anjia its scene. `inv:<user id>` invites a neighbour
//! (temporary, 30 days); `pp:<pickup point id>` is printed at a pickup point
//! (permanent). Codes are cached: asking again returns the same code while
//! it is valid, so WeChat's quota of permanent codes is not spent twice.

use entity::{CommunityId, PickupPointId, QrCodeId, UserId, pickup_point, wechat_qr_code};
use rand::RngCore;
use reqwest::Method;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};

use super::client::{App, WechatClient};
use super::error::WechatError;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult};

/// WeChat's longest temporary code.
const TEMPORARY_SECS: i64 = 30 * 24 * 3600;
/// A cached temporary code is handed out only while it has this long left.
const MIN_REMAINING: chrono::Duration = chrono::Duration::days(1);

/// Returns the cached code for `scene`, or creates one at WeChat.
async fn obtain(
    db: &DatabaseConnection,
    wechat: &WechatClient,
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
        .one(db)
        .await?;
    let sandbox = wechat.sandbox(App::Service);
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
        let answer = wechat
            .call(
                db,
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
    .insert(db)
    .await?)
}

/// The invitation code of `user`: neighbours who follow the account
/// through it are recorded as invited by them.
pub async fn invite_code(
    db: &DatabaseConnection,
    wechat: &WechatClient,
    user: UserId,
) -> ApiResult<wechat_qr_code::Model> {
    obtain(db, wechat, format!("inv:{user}"), false, None, user).await
}

/// A pickup point's permanent code, to print and put up at the point
/// (`404` for a point not in `community`).
pub async fn pickup_point_code(
    db: &DatabaseConnection,
    wechat: &WechatClient,
    community: CommunityId,
    point: PickupPointId,
    by: UserId,
) -> ApiResult<wechat_qr_code::Model> {
    let point = pickup_point::Entity::find_by_id(point)
        .filter(pickup_point::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    obtain(
        db,
        wechat,
        format!("pp:{}", point.id),
        true,
        Some(community),
        by,
    )
    .await
}

/// The code `id` as an SVG image, while it is valid.
pub async fn image_svg(db: &DatabaseConnection, id: QrCodeId) -> ApiResult<String> {
    let code = wechat_qr_code::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|c| c.expires_at.is_none_or(|e| e > clock::now()))
        .ok_or_else(ApiError::not_found)?;
    let qr = qrcode::QrCode::new(code.url.as_bytes())
        .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    Ok(qr
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .build())
}
