//! The outbox over HTTP: operators list and retry outbound messages; in
//! sandbox mode everyone reads the messages they would have received.

use actix_web::web;
use entity::OutboxMessageId;

use super::service;
use super::views::{InboxFilter, OutboxEntry, OutboxFilter, SandboxEntry};
use crate::auth::Caller;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Page, PageQuery};
use crate::state::AppState;

/// Outbound WeChat messages, oldest first, by status and kind.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "messages",
    params(OutboxFilter, PageQuery),
    responses((status = 200, body = Page<OutboxEntry>)))]
pub async fn list(
    state: web::Data<AppState>,
    filter: web::Query<OutboxFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<OutboxEntry>>> {
    Ok(web::Json(service::list(&state.db, &filter, &query).await?))
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
    Ok(web::Json(
        service::retry(&state.db, path.into_inner()).await?,
    ))
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
    // Operator admins may read anyone's (or everyone's); others their own.
    let of = if caller.is_operator_admin {
        filter.user_id
    } else {
        Some(caller.user.id)
    };
    Ok(web::Json(
        service::sandbox_inbox(&state.db, of, &query).await?,
    ))
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
