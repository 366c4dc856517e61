//! Disputes over HTTP: residents open and follow them, merchants answer,
//! customer service decide. See the module above for the rules.

use actix_web::{HttpResponse, web};
use entity::{CommunityId, DisputeId, MerchantId, OrderId, dispute};

use super::service::{self, Whose};
use super::views::{
    Decision, Dispute, DisputeDetail, DisputeFilter, MerchantAnswer, NewDispute, ResidentReply,
};
use crate::auth::access::DISPUTE_STAFF;
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

/// `d` as the API shows it, its photos with signed download links.
async fn detail(state: &AppState, d: dispute::Model) -> ApiResult<DisputeDetail> {
    let found = service::detail(&state.db, d).await?;
    Ok(DisputeDetail::new(found, |f| {
        crate::files::service::signed_link(&state.settings, f)
    }))
}

/// Whether the caller may see `d` here: their household's, or any for
/// dispute staff.
fn may_see(scope: &CommunityScope, d: &dispute::Model) -> bool {
    scope.has_any_role(DISPUTE_STAFF) || scope.membership(d.household_id).is_some()
}

// ---------------------------------------------------------------- residents

/// Dispute an order of your household (售后): after the merchant took it,
/// within `payment.dispute_window_days` of its fulfilment and before it
/// settles. Its money stays in escrow until the dispute ends. One dispute
/// per order.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/dispute", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = NewDispute,
    responses((status = 201, body = DisputeDetail),
        (status = 409, description = "`invalid_transition`, `dispute_window_closed`, `dispute_exists`", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn open(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<NewDispute>,
) -> ApiResult<HttpResponse> {
    let o = crate::orders::service::own_order(&state.db, &scope, path.1).await?;
    let opening = body.into_inner().parse()?;
    let d = service::open(&state.db, &state.settings, o.id, caller.user.id, opening).await?;
    Ok(HttpResponse::Created().json(detail(&state, d).await?))
}

/// Disputes here, oldest first: every one for customer service and the
/// manager, your households' for residents.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/disputes", tag = "disputes",
    params(("community_id" = CommunityId, Path), DisputeFilter, PageQuery),
    responses((status = 200, body = Page<Dispute>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<DisputeFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Dispute>>> {
    let page = query.parse()?;
    let households = (!scope.has_any_role(DISPUTE_STAFF))
        .then(|| scope.memberships.iter().map(|m| m.household_id).collect());
    let found = service::list(
        &state.db,
        Whose::Community(scope.id(), households),
        filter.status,
        page,
    )
    .await?;
    Ok(web::Json(found.map(Dispute::from)))
}

/// A dispute with its whole history.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)),
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, DisputeId)>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = service::visible(&state.db, scope.id(), path.1, |d| may_see(&scope, d)).await?;
    Ok(web::Json(detail(&state, d).await?))
}

/// Answer the merchant: take its offer, escalate to customer service, or
/// withdraw.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}/reply", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)), request_body = ResidentReply,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reply(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, DisputeId)>,
    body: Json<ResidentReply>,
) -> ApiResult<web::Json<DisputeDetail>> {
    crate::orders::service::require_resident(&scope)?;
    let d = service::visible(&state.db, scope.id(), path.1, |d| {
        scope.membership(d.household_id).is_some()
    })
    .await?;
    let (what, said) = body.into_inner().parse()?;
    let moved =
        crate::flows::disputes::reply(&state.db, &state.settings, &d, caller.user.id, what, said)
            .await?;
    Ok(web::Json(detail(&state, moved).await?))
}

/// Decide an escalated dispute (customer service, the manager): the refund
/// is made at once and the rest settles to the merchant.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/disputes/{dispute_id}/decision", tag = "disputes",
    params(("community_id" = CommunityId, Path), ("dispute_id" = DisputeId, Path)), request_body = Decision,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition` (not escalated)", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, DisputeId)>,
    body: Json<Decision>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = service::visible(&state.db, scope.id(), path.1, |d| may_see(&scope, d)).await?;
    let (outcome, note) = body.into_inner().parse()?;
    let moved = crate::flows::disputes::decide(
        &state.db,
        &state.settings,
        &d,
        caller.user.id,
        outcome,
        note,
    )
    .await?;
    Ok(web::Json(detail(&state, moved).await?))
}

// ---------------------------------------------------------------- merchants

/// The merchant's disputes, oldest first.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/disputes", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), DisputeFilter, PageQuery),
    responses((status = 200, body = Page<Dispute>)))]
pub async fn merchant_list(
    state: web::Data<AppState>,
    scope: MerchantScope,
    filter: web::Query<DisputeFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Dispute>>> {
    let page = query.parse()?;
    let found = service::list(
        &state.db,
        Whose::Merchant(scope.merchant.id),
        filter.status,
        page,
    )
    .await?;
    Ok(web::Json(found.map(Dispute::from)))
}

/// One of the merchant's disputes, with its whole history.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), ("dispute_id" = DisputeId, Path)),
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody)))]
pub async fn merchant_get(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, DisputeId)>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = service::of_merchant(&state.db, scope.merchant.id, path.1).await?;
    Ok(web::Json(detail(&state, d).await?))
}

/// Answer a dispute opened on one of the merchant's orders: accept,
/// propose a smaller refund, or reject.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/disputes/{dispute_id}/answer", tag = "disputes",
    params(("merchant_id" = MerchantId, Path), ("dispute_id" = DisputeId, Path)), request_body = MerchantAnswer,
    responses((status = 200, body = DisputeDetail), (status = 404, body = ErrorBody),
        (status = 409, description = "`invalid_transition` (already answered)", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn answer(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, DisputeId)>,
    body: Json<MerchantAnswer>,
) -> ApiResult<web::Json<DisputeDetail>> {
    let d = service::of_merchant(&state.db, scope.merchant.id, path.1).await?;
    let (what, said) = body.into_inner().parse()?;
    let moved =
        crate::flows::disputes::answer(&state.db, &state.settings, &d, caller.user.id, what, said)
            .await?;
    Ok(web::Json(detail(&state, moved).await?))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{DISPUTE_STAFF, MERCHANT_ANY, RESIDENTS_ONLY};
    vec![
        // Disputes: residents open and reply, merchants answer, customer service decide
        route::<__path_open, _, _>(Residents(RESIDENTS_ONLY), open),
        route::<__path_list, _, _>(Residents(DISPUTE_STAFF), list),
        route::<__path_get, _, _>(Residents(DISPUTE_STAFF), get),
        route::<__path_reply, _, _>(Residents(RESIDENTS_ONLY), reply),
        route::<__path_decide, _, _>(Staff(DISPUTE_STAFF), decide),
        route::<__path_merchant_list, _, _>(Merchant(MERCHANT_ANY), merchant_list),
        route::<__path_merchant_get, _, _>(Merchant(MERCHANT_ANY), merchant_get),
        route::<__path_answer, _, _>(Merchant(MERCHANT_ANY), answer),
    ]
}
