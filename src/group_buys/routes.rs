//! Group buys over HTTP: merchants (and the property) open and run them,
//! residents of the community see and join them.

use actix_web::{HttpRequest, HttpResponse, web};
use entity::{CommunityId, GroupBuyId, HouseholdId, MerchantId};

use super::service::{self, JoinOrder, Viewer};
use super::views::{
    GroupBuy, GroupBuyChanges, GroupBuyDetail, GroupBuyFilter, GroupBuyMove, JoinGroupBuy,
    NewGroupBuy,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::flows::group_buys as flows;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::created_or_replayed;
use crate::kernel::http::{Json, Page, PageQuery};
use crate::orders::service::{Actor, ClientInfo, Idempotency};
use crate::orders::service::{ordering_household, resolve_receiving};
use crate::orders::views::{Order, parse_intro};
use crate::state::AppState;

/// Who is looking: staff (and operator admins) see drafts too.
fn viewer(scope: &CommunityScope) -> Viewer {
    Viewer {
        community: scope.id(),
        staff: !scope.roles.is_empty() || scope.operator_admin,
    }
}

/// Open a group buy of the merchant's in a community where it is verified.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/group-buys", tag = "group buys",
    params(("merchant_id" = MerchantId, Path)), request_body = NewGroupBuy,
    responses((status = 201, body = GroupBuy), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merchant_create(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    body: Json<NewGroupBuy>,
) -> ApiResult<HttpResponse> {
    let made = service::create_for_merchant(
        &state.db,
        scope.merchant.id,
        caller.user.id,
        body.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Open a group buy run by the property itself (邻里专属: local produce…).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/group-buys", tag = "group buys",
    params(("community_id" = CommunityId, Path)), request_body = NewGroupBuy,
    responses((status = 201, body = GroupBuy), (status = 422, body = ErrorBody)))]
pub async fn property_create(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    body: Json<NewGroupBuy>,
) -> ApiResult<HttpResponse> {
    let made =
        service::create_for_property(&state.db, scope.id(), caller.user.id, body.into_inner())
            .await?;
    Ok(HttpResponse::Created().json(made))
}

/// The community's group buys: residents see the published ones, staff all.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/group-buys", tag = "group buys",
    params(("community_id" = CommunityId, Path), GroupBuyFilter, PageQuery),
    responses((status = 200, body = Page<GroupBuy>)))]
pub async fn list(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<GroupBuyFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<GroupBuy>>> {
    let page = query.parse()?;
    Ok(web::Json(
        service::list(&state.db, viewer(&scope), filter.status, page).await?,
    ))
}

/// The merchant's group buys, in every community.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/group-buys", tag = "group buys",
    params(("merchant_id" = MerchantId, Path), GroupBuyFilter, PageQuery),
    responses((status = 200, body = Page<GroupBuy>)))]
pub async fn merchant_list(
    state: web::Data<AppState>,
    scope: MerchantScope,
    filter: web::Query<GroupBuyFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<GroupBuy>>> {
    let page = query.parse()?;
    Ok(web::Json(
        service::merchant_list(&state.db, scope.merchant.id, filter.status, page).await?,
    ))
}

/// A group buy, with its participants' introductions for participants.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/group-buys/{group_buy_id}", tag = "group buys",
    params(("community_id" = CommunityId, Path), ("group_buy_id" = GroupBuyId, Path)),
    responses((status = 200, body = GroupBuyDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, GroupBuyId)>,
) -> ApiResult<web::Json<GroupBuyDetail>> {
    let households: Vec<HouseholdId> = scope.memberships.iter().map(|m| m.household_id).collect();
    Ok(web::Json(
        service::detail(&state.db, viewer(&scope), &households, path.1).await?,
    ))
}

/// Edit a draft group buy of the merchant's.
#[utoipa::path(patch, path = "/api/v1/merchants/{merchant_id}/group-buys/{group_buy_id}", tag = "group buys",
    params(("merchant_id" = MerchantId, Path), ("group_buy_id" = GroupBuyId, Path)), request_body = GroupBuyChanges,
    responses((status = 200, body = GroupBuy), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merchant_edit(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, GroupBuyId)>,
    body: Json<GroupBuyChanges>,
) -> ApiResult<web::Json<GroupBuy>> {
    let edited =
        service::merchant_edit(&state.db, scope.merchant.id, path.1, body.into_inner()).await?;
    Ok(web::Json(edited))
}

/// Edit a draft group buy the property runs.
#[utoipa::path(patch, path = "/api/v1/communities/{community_id}/group-buys/{group_buy_id}", tag = "group buys",
    params(("community_id" = CommunityId, Path), ("group_buy_id" = GroupBuyId, Path)), request_body = GroupBuyChanges,
    responses((status = 200, body = GroupBuy), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn property_edit(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, GroupBuyId)>,
    body: Json<GroupBuyChanges>,
) -> ApiResult<web::Json<GroupBuy>> {
    let edited =
        service::property_edit(&state.db, viewer(&scope), path.1, body.into_inner()).await?;
    Ok(web::Json(edited))
}

/// Publish, close early, fulfil, mark ready, complete or cancel.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/group-buys/{group_buy_id}/status", tag = "group buys",
    params(("merchant_id" = MerchantId, Path), ("group_buy_id" = GroupBuyId, Path)), request_body = GroupBuyMove,
    responses((status = 200, body = GroupBuy), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merchant_move(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, GroupBuyId)>,
    body: Json<GroupBuyMove>,
) -> ApiResult<web::Json<GroupBuy>> {
    let actor = Actor::merchant(caller.user.id);
    let moved = flows::merchant_move(
        &state.db,
        &state.settings,
        &state.pii,
        scope.merchant.id,
        path.1,
        body.into_inner(),
        actor,
    )
    .await?;
    Ok(web::Json(moved))
}

/// Run the property's own group buys; cancel any group buy in the
/// community (a merchant's too).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/group-buys/{group_buy_id}/status", tag = "group buys",
    params(("community_id" = CommunityId, Path), ("group_buy_id" = GroupBuyId, Path)), request_body = GroupBuyMove,
    responses((status = 200, body = GroupBuy), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn property_move(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, GroupBuyId)>,
    body: Json<GroupBuyMove>,
) -> ApiResult<web::Json<GroupBuy>> {
    let actor = Actor::staff(caller.user.id);
    let moved = flows::property_move(
        &state.db,
        &state.settings,
        &state.pii,
        viewer(&scope),
        path.1,
        body.into_inner(),
        actor,
    )
    .await?;
    Ok(web::Json(moved))
}

/// Join a group buy: reserves the stock and creates an order to pay before
/// its payment deadline. Send an `Idempotency-Key` header so a retried join
/// never makes two orders.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/group-buys/{group_buy_id}/orders", tag = "group buys",
    params(("community_id" = CommunityId, Path), ("group_buy_id" = GroupBuyId, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key returns the same order."),
        ("X-Client-Kind" = Option<String>, Header, description = "mini_program, h5 or backoffice")),
    request_body = JoinGroupBuy,
    responses((status = 201, body = Order), (status = 200, description = "Replayed Idempotency-Key", body = Order),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn join(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(CommunityId, GroupBuyId)>,
    body: Json<JoinGroupBuy>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let idem = Idempotency::from_request(&req, &serde_json::to_value(&body).unwrap_or_default())?;
    let household = ordering_household(&scope, body.household_id)?;
    let joining = service::joining(&state.db, viewer(&scope), path.1, &body).await?;
    let reception = resolve_receiving(
        &state.db,
        scope.id(),
        household,
        &body.receiving,
        Some(&joining.points),
        joining.group.door_delivery,
    )
    .await?;
    let order = JoinOrder {
        user: caller.user.id,
        household,
        fulfilment: body.receiving.fulfilment,
        pickup_point: reception.pickup_point_id,
        address: reception.address,
        address_remark: reception.address_remark,
        delivery_time: reception.delivery_time,
        intro: parse_intro(body.intro.as_deref())?,
        client: ClientInfo::from_request(&req, &state.settings),
        idempotency: idem,
    };
    let submitted = service::join(&state.db, &state.settings, joining, order).await?;
    let answer = Order::new(submitted.order, submitted.lines);
    Ok(created_or_replayed(answer, submitted.replayed))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{ANY_STAFF, MANAGER, MERCHANT_ANY, RESIDENTS_ONLY};
    vec![
        // Group buys
        route::<__path_merchant_create, _, _>(Merchant(MERCHANT_ANY), merchant_create),
        route::<__path_merchant_list, _, _>(Merchant(MERCHANT_ANY), merchant_list),
        route::<__path_merchant_move, _, _>(Merchant(MERCHANT_ANY), merchant_move),
        route::<__path_merchant_edit, _, _>(Merchant(MERCHANT_ANY), merchant_edit),
        route::<__path_property_create, _, _>(Staff(MANAGER), property_create),
        route::<__path_list, _, _>(Residents(ANY_STAFF), list),
        route::<__path_get, _, _>(Residents(ANY_STAFF), get),
        route::<__path_property_move, _, _>(Staff(MANAGER), property_move),
        route::<__path_property_edit, _, _>(Staff(MANAGER), property_edit),
        route::<__path_join, _, _>(Residents(RESIDENTS_ONLY), join),
    ]
}
