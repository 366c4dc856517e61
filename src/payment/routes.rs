//! The payment port over HTTP: a household's wallet, the community's
//! refunds and retrying a failed one (finance), and the table of the
//! payment routes (WeChat Pay's notifications and bills included).
//!
//! A failed refund's money is back in escrow and the order does not settle
//! until finance decide it again, back the way it was paid or into the
//! household's wallet.

use actix_web::web;
use entity::{CommunityId, HouseholdId, RefundId};

use super::service::{self, refunds};
use super::views::{CommunityRefund, RefundFilter, RefundRetry, Wallet};
use crate::auth::CommunityScope;
use crate::auth::access::FINANCE;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::Json;
use crate::state::AppState;

/// A household's wallet: its balance and latest movements (the household's
/// verified members, and the community's manager and finance staff).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households/{household_id}/wallet", tag = "settlement",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 200, body = Wallet), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<web::Json<Wallet>> {
    let id = path.1;
    let allowed =
        scope.membership(id).is_some() || scope.has_any_role(FINANCE) || scope.operator_admin;
    Ok(web::Json(
        service::wallet(&state.db, scope.id(), id, allowed).await?,
    ))
}

/// The community's refunds, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/refunds", tag = "settlement",
    params(("community_id" = CommunityId, Path), RefundFilter),
    responses((status = 200, body = Vec<CommunityRefund>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<RefundFilter>,
) -> ApiResult<web::Json<Vec<CommunityRefund>>> {
    Ok(web::Json(
        refunds::community_refunds(&state.db, scope.id(), filter.status).await?,
    ))
}

/// Decide a failed refund again (finance): a new refund of the same amount,
/// the way it was paid or into the household's wallet. The failed one is
/// marked `retried`.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/refunds/{refund_id}/retry", tag = "settlement",
    params(("community_id" = CommunityId, Path), ("refund_id" = RefundId, Path)), request_body = RefundRetry,
    responses((status = 200, body = CommunityRefund), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`: not a failed refund", body = ErrorBody)))]
pub async fn retry(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, RefundId)>,
    body: Json<RefundRetry>,
) -> ApiResult<web::Json<CommunityRefund>> {
    let to = body.into_inner().refund_to;
    Ok(web::Json(
        refunds::retry(&state.db, &state.settings, scope.id(), path.1, to).await?,
    ))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{FINANCE};
    use super::wechat_pay::{bills, routes as notify};
    vec![
        // WeChat Pay's notifications (the signature is the authorization)
        route::<notify::__path_payment, _, _>(Public, notify::payment),
        route::<notify::__path_refund, _, _>(Public, notify::refund),
        route::<notify::__path_transfer, _, _>(Public, notify::transfer),
        route::<__path_get, _, _>(Residents(FINANCE), get),
        route::<__path_list, _, _>(Staff(FINANCE), list),
        route::<__path_retry, _, _>(Staff(FINANCE), retry),
        route::<bills::routes::__path_community, _, _>(Staff(FINANCE), bills::routes::community),
        route::<bills::routes::__path_company, _, _>(OperatorAdmin, bills::routes::company),
    ]
}
