//! Operators see every outbound message (pending, sent, failed, with the
//! reason) and can send a failed one again; in sandbox mode developers read
//! the sandbox inbox.

use actix_web::web;
use chrono::{DateTime, Utc};
use entity::{OutboxChannel, OutboxMessageId, OutboxStatus, SandboxMessageId, UserId};
use entity::{outbox_message, sandbox_message};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Page, PageQuery};
use crate::state::AppState;

/// An openid shown to operators: enough to tell people apart, not to reuse.
fn mask_openid(openid: &str) -> String {
    let head: String = openid.chars().take(6).collect();
    format!("{head}***")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: OutboxMessageId,
    pub kind: String,
    pub channel: OutboxChannel,
    pub user_id: Option<UserId>,
    /// Masked.
    pub openid: Option<String>,
    pub summary: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<outbox_message::Model> for OutboxEntry {
    fn from(m: outbox_message::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            channel: m.channel,
            user_id: m.user_id,
            openid: m.openid.as_deref().map(mask_openid),
            summary: m.summary,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    pub status: Option<OutboxStatus>,
    pub kind: Option<String>,
    pub user_id: Option<UserId>,
}

/// Outbound WeChat messages, oldest first, by status and kind.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "messages",
    params(OutboxFilter, PageQuery),
    responses((status = 200, body = Page<OutboxEntry>)))]
pub async fn list(
    state: web::Data<AppState>,
    filter: web::Query<OutboxFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<OutboxEntry>>> {
    let mut select = outbox_message::Entity::find();
    if let Some(status) = filter.status {
        select = select.filter(outbox_message::Column::Status.eq(status));
    }
    if let Some(kind) = &filter.kind {
        select = select.filter(outbox_message::Column::Kind.eq(kind.as_str()));
    }
    if let Some(user_id) = filter.user_id {
        select = select.filter(outbox_message::Column::UserId.eq(user_id));
    }
    let page = query
        .parse()?
        .fetch(
            select,
            outbox_message::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(OutboxEntry::from)))
}

/// Sends a failed message again (attempts start over).
#[utoipa::path(post, path = "/api/v1/outbox/{message_id}/retry", tag = "messages",
    params(("message_id" = OutboxMessageId, Path)),
    responses((status = 200, body = OutboxEntry),
        (status = 409, description = "`invalid_transition`: only failed messages are retried", body = ErrorBody)))]
pub async fn retry(
    state: web::Data<AppState>,
    path: web::Path<OutboxMessageId>,
) -> ApiResult<web::Json<OutboxEntry>> {
    let id = path.into_inner();
    let now = clock::now();
    let changed = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Status,
            Expr::value(OutboxStatus::Pending),
        )
        .col_expr(outbox_message::Column::Attempts, Expr::value(0))
        .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now))
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(OutboxStatus::Failed))
        .filter(outbox_message::Column::Payload.ne("null"))
        .exec(&state.db)
        .await?
        .rows_affected;
    let message = outbox_message::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if changed == 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "only failed messages that have something to send can be retried",
        ));
    }
    Ok(web::Json(message.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxEntry {
    pub id: SandboxMessageId,
    pub outbox_id: OutboxMessageId,
    pub user_id: Option<UserId>,
    pub kind: String,
    pub channel: OutboxChannel,
    /// What the person would read.
    pub summary: String,
    /// What would have been sent to WeChat.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub delivered_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// Operator admins may read anyone's (or everyone's) inbox.
    pub user_id: Option<UserId>,
}

/// Sandbox mode only: the messages residents would have received from
/// WeChat. Everyone sees their own; operator admins see all.
#[utoipa::path(get, path = "/api/v1/dev/sandbox/inbox", tag = "messages",
    params(InboxFilter, PageQuery),
    responses((status = 200, body = Page<SandboxEntry>)))]
pub async fn sandbox_inbox(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<InboxFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<SandboxEntry>>> {
    let mut select = sandbox_message::Entity::find();
    match (caller.is_operator_admin, filter.user_id) {
        (true, Some(user_id)) => {
            select = select.filter(sandbox_message::Column::UserId.eq(user_id))
        }
        (true, None) => {}
        (false, _) => select = select.filter(sandbox_message::Column::UserId.eq(caller.user.id)),
    }
    let page = query
        .parse()?
        .fetch(
            select,
            sandbox_message::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(|m| SandboxEntry {
        id: m.id,
        outbox_id: m.outbox_id,
        user_id: m.user_id,
        kind: m.kind,
        channel: m.channel,
        summary: m.summary,
        payload: serde_json::from_str(&m.payload).unwrap_or(Value::Null),
        delivered_at: m.delivered_at,
    })))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table(settings: &crate::config::Settings) -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    let mut routes = vec![
        // Outbound messages
        route::<__path_list, _, _>(OperatorAdmin, list),
        route::<__path_retry, _, _>(OperatorAdmin, retry),
    ];
    if settings.wechat.sandbox() && settings.miniprogram.sandbox() {
        routes.push(route::<__path_sandbox_inbox, _, _>(SignedIn, sandbox_inbox));
    }
    routes
}
