//! Orders over HTTP: residents submit, pay, cancel and confirm; merchants
//! (and the property, for its own group buys) move them along; staff and
//! merchants list them.

use actix_web::{HttpRequest, HttpResponse, web};
use entity::{CommunityId, MerchantId, OrderId, order};

use super::service::{self, Actor, CatalogOrder, ClientInfo, Idempotency, Whose, one_order};
use super::views::{
    Cancellation, NewCatalogOrder, Order, OrderDetail, OrderFilter, OrderMove, PayRequest, PayWith,
    Paying,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::config::Settings;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

// ---------------------------------------------------------------- the request

impl ClientInfo {
    /// Reads the client from the request: its address, its `User-Agent`
    /// and its `X-Client-Kind` (the HTTP side of [`ClientInfo::new`]).
    pub fn from_request(req: &HttpRequest, settings: &Settings) -> Self {
        let headers = req.headers();
        let user_agent = headers
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let declared = headers.get("x-client-kind").and_then(|v| v.to_str().ok());
        ClientInfo::new(
            crate::kernel::http::client_ip(req, settings.server.trust_forwarded_for),
            user_agent.unwrap_or(""),
            declared,
        )
    }
}

impl Idempotency {
    /// Reads the `Idempotency-Key` header and fingerprints the request (the
    /// HTTP side of [`Idempotency::parse`]).
    pub fn from_request(req: &HttpRequest, body: &serde_json::Value) -> ApiResult<Option<Self>> {
        let key = req
            .headers()
            .get("idempotency-key")
            .map(|v| v.to_str().ok());
        Idempotency::parse(key, req.path(), body)
    }
}

/// The order with its history, and the pickup codes `viewer` holds for it.
async fn detail(
    state: &AppState,
    o: order::Model,
    viewer: entity::UserId,
    show_client: bool,
) -> ApiResult<OrderDetail> {
    let codes =
        crate::pickup::service::codes_held(&state.db, &state.pii, viewer, Some(o.id)).await?;
    service::detail(&state.db, o, codes, show_client).await
}

// ---------------------------------------------------------------- submitting

/// The answer to an order submission, built from what was written (no
/// re-read): 201, or 200 with `Idempotent-Replayed` for a replayed key.
pub fn created(submitted: service::Submitted) -> HttpResponse {
    let order = Order::new(submitted.order, submitted.lines);
    crate::kernel::http::created_or_replayed(order, submitted.replayed)
}

/// Order from a merchant's catalog (prices are the server's). Send an
/// `Idempotency-Key` header so a retried submit never makes two orders.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders", tag = "orders",
    params(("community_id" = CommunityId, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key returns the same order."),
        ("X-Client-Kind" = Option<String>, Header, description = "mini_program, h5 or backoffice")),
    request_body = NewCatalogOrder,
    responses((status = 201, body = Order), (status = 200, description = "Replayed Idempotency-Key", body = Order),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    req: HttpRequest,
    body: Json<NewCatalogOrder>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let idempotency =
        Idempotency::from_request(&req, &serde_json::to_value(&body).unwrap_or_default())?;
    let household_id = service::ordering_household(&scope, body.household_id)?;
    let submitted = service::submit_catalog(
        &state.db,
        &state.settings,
        CatalogOrder {
            community_id: scope.id(),
            user_id: caller.user.id,
            household_id,
            request: body,
            client: ClientInfo::from_request(&req, &state.settings),
            idempotency,
        },
    )
    .await?;
    Ok(created(submitted))
}

// ---------------------------------------------------------------- residents

/// One order with its lines, history, refunds and the caller's pickup codes.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/orders/{order_id}", tag = "orders",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
) -> ApiResult<web::Json<OrderDetail>> {
    let o = service::visible_order(&state.db, &scope, path.1).await?;
    let staff = scope.has_any_role(crate::auth::access::ORDER_STAFF);
    Ok(web::Json(detail(&state, o, caller.user.id, staff).await?))
}

/// Pay for the order. From the household's wallet (`"method": "wallet"`)
/// it completes at once. With the sandbox provider the payment completes at
/// once, through the same path a verified payment notification takes. With
/// WeChat Pay the answer carries the signed parameters for
/// `wx.requestPayment` (the amount is the order's own, the prepay expires at
/// the payment deadline); the order is paid when WeChat Pay's notification
/// arrives. The caller needs a mini-program sign-in (its openid pays).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/pay", tag = "orders",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = PayRequest,
    responses((status = 200, body = Paying), (status = 409, body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat Pay refused or failed", body = ErrorBody)))]
pub async fn pay(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<PayRequest>,
) -> ApiResult<web::Json<Paying>> {
    let o = service::own_order(&state.db, &scope, path.1).await?;
    let from_wallet = body.into_inner().method == Some(PayWith::Wallet);
    let (o, payment) = crate::flows::payments::pay_order(
        &state.db,
        &state.settings,
        state.wechat_pay.as_deref(),
        o,
        caller.user.id,
        from_wallet,
    )
    .await?;
    Ok(web::Json(Paying {
        order: one_order(&state.db, o).await?,
        payment,
    }))
}

/// Cancel the order: before payment; after payment while the merchant has
/// not accepted it (a group-buy order: while the group has not yet
/// succeeded). A paid order is refunded.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/cancel", tag = "orders",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = Cancellation,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody)))]
pub async fn cancel(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<Cancellation>,
) -> ApiResult<web::Json<Order>> {
    let o = service::own_order(&state.db, &scope, path.1).await?;
    let cancel = body.into_inner().parse()?;
    let moved =
        crate::flows::orders::cancel(&state.db, &state.settings, &o, cancel, caller.user.id)
            .await?;
    Ok(web::Json(one_order(&state.db, moved).await?))
}

/// Confirm receipt of a delivered order (it also confirms itself after
/// `payment.auto_confirm_days`).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/confirm", tag = "orders",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)),
    responses((status = 200, body = Order), (status = 409, body = ErrorBody)))]
pub async fn confirm(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
) -> ApiResult<web::Json<Order>> {
    let o = service::own_order(&state.db, &scope, path.1).await?;
    let moved =
        crate::flows::orders::confirm(&state.db, &state.settings, &o, caller.user.id).await?;
    Ok(web::Json(one_order(&state.db, moved).await?))
}

/// The caller's own orders, in every community, newest last.
#[utoipa::path(get, path = "/api/v1/me/orders", tag = "orders",
    params(OrderFilter, PageQuery), responses((status = 200, body = Page<Order>)))]
pub async fn mine(
    state: web::Data<AppState>,
    caller: Caller,
    filter: web::Query<OrderFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Order>>> {
    let page = query.parse()?;
    let found = service::list(&state.db, Whose::Submitter(caller.user.id), &filter, page).await?;
    Ok(web::Json(found))
}

// ---------------------------------------------------------------- sellers

/// Applies a seller's move (merchant staff, or property staff for the
/// property's own group buys), through the orders flow; an order now at its
/// pickup point gets its pickup code.
async fn seller_move(
    state: &AppState,
    o: order::Model,
    body: OrderMove,
    actor: Actor,
) -> ApiResult<order::Model> {
    let change = body.parse()?;
    crate::flows::orders::seller_move(&state.db, &state.settings, &state.pii, &o, change, actor)
        .await
}

/// The merchant's orders, in every community it sells in.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/orders", tag = "orders",
    params(("merchant_id" = MerchantId, Path), OrderFilter, PageQuery),
    responses((status = 200, body = Page<Order>)))]
pub async fn merchant_orders(
    state: web::Data<AppState>,
    scope: MerchantScope,
    filter: web::Query<OrderFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Order>>> {
    let page = query.parse()?;
    let found = service::list(&state.db, Whose::Merchant(scope.merchant.id), &filter, page).await?;
    Ok(web::Json(found))
}

/// One of the merchant's orders, with its history.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/orders/{order_id}", tag = "orders",
    params(("merchant_id" = MerchantId, Path), ("order_id" = OrderId, Path)),
    responses((status = 200, body = OrderDetail), (status = 404, body = ErrorBody)))]
pub async fn merchant_order_detail(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, OrderId)>,
) -> ApiResult<web::Json<OrderDetail>> {
    let o = service::merchant_order(&state.db, scope.merchant.id, path.1).await?;
    Ok(web::Json(detail(&state, o, caller.user.id, false).await?))
}

/// Accept, reject (with a reason), prepare, dispatch, mark ready, delivered
/// or an exception.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/orders/{order_id}/status", tag = "orders",
    params(("merchant_id" = MerchantId, Path), ("order_id" = OrderId, Path)), request_body = OrderMove,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merchant_move(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, OrderId)>,
    body: Json<OrderMove>,
) -> ApiResult<web::Json<Order>> {
    let o = service::merchant_order(&state.db, scope.merchant.id, path.1).await?;
    let moved = seller_move(
        &state,
        o,
        body.into_inner(),
        Actor::merchant(caller.user.id),
    )
    .await?;
    Ok(web::Json(one_order(&state.db, moved).await?))
}

/// Every order in the community (property staff).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/orders", tag = "orders",
    params(("community_id" = CommunityId, Path), OrderFilter, PageQuery),
    responses((status = 200, body = Page<Order>)))]
pub async fn community_orders(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<OrderFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Order>>> {
    let page = query.parse()?;
    let found = service::list(&state.db, Whose::Community(scope.id()), &filter, page).await?;
    Ok(web::Json(found))
}

/// Move an order the property sells (its own group buys), as the merchant
/// would.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/status", tag = "orders",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = OrderMove,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn property_move(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<OrderMove>,
) -> ApiResult<web::Json<Order>> {
    let o = service::property_order(&state.db, scope.id(), path.1).await?;
    let moved = seller_move(&state, o, body.into_inner(), Actor::staff(caller.user.id)).await?;
    Ok(web::Json(one_order(&state.db, moved).await?))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER, MERCHANT_ANY, ORDER_STAFF, RESIDENTS_ONLY};
    vec![
        // Orders
        route::<__path_create, _, _>(Residents(RESIDENTS_ONLY), create),
        route::<__path_community_orders, _, _>(Staff(ORDER_STAFF), community_orders),
        route::<__path_get, _, _>(Residents(ORDER_STAFF), get),
        route::<__path_pay, _, _>(Residents(RESIDENTS_ONLY), pay),
        route::<__path_cancel, _, _>(Residents(RESIDENTS_ONLY), cancel),
        route::<__path_confirm, _, _>(Residents(RESIDENTS_ONLY), confirm),
        route::<__path_property_move, _, _>(Staff(MANAGER), property_move),
        route::<__path_mine, _, _>(SignedIn, mine),
        route::<__path_merchant_orders, _, _>(Merchant(MERCHANT_ANY), merchant_orders),
        route::<__path_merchant_order_detail, _, _>(Merchant(MERCHANT_ANY), merchant_order_detail),
        route::<__path_merchant_move, _, _>(Merchant(MERCHANT_ANY), merchant_move),
    ]
}
