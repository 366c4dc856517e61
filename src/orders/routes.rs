//! Orders over HTTP: residents submit, pay, cancel and confirm; merchants
//! (and the property, for its own group buys) move them along; staff and
//! merchants list them.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    ActorRole, ClientKind, CommunityId, CourierId, Fen, Fulfilment, GroupBuyId, GroupBuyItemId,
    HouseholdId, MerchantId, OrderId, OrderStatus, PaymentMethod, PickupPointId, PickupSlotId,
    ProductId, RefundStatus, UserId, category, order, order_event, order_line, pickup_point,
    product,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, Actor, ClientInfo, Idempotency, LineSpec, MoveDetails, NewOrder};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::flows::orders::advance;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderLine {
    pub product_id: Option<ProductId>,
    pub group_buy_item_id: Option<GroupBuyItemId>,
    pub title: String,
    pub unit: String,
    /// Fen, as it was when ordered.
    pub unit_price: Fen,
    pub quantity: i32,
    /// Fen.
    pub amount: Fen,
}

impl From<order_line::Model> for OrderLine {
    fn from(l: order_line::Model) -> Self {
        Self {
            product_id: l.product_id,
            group_buy_item_id: l.group_buy_item_id,
            title: l.title,
            unit: l.unit,
            unit_price: l.unit_price,
            quantity: l.quantity,
            amount: l.amount,
        }
    }
}

/// An order and its lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: OrderId,
    /// For people (and the payment provider).
    pub order_no: String,
    pub community_id: CommunityId,
    /// The seller; absent when the property sells.
    pub merchant_id: Option<MerchantId>,
    pub group_buy_id: Option<GroupBuyId>,
    pub household_id: HouseholdId,
    pub submitted_by: UserId,
    pub status: OrderStatus,
    /// Fen: the sum of the lines, priced by the server.
    pub amount: Fen,
    pub payment_method: Option<PaymentMethod>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Unpaid orders let go of their goods at this time.
    pub payment_deadline: DateTime<Utc>,
    pub fulfilment: Fulfilment,
    pub pickup_point_id: Option<PickupPointId>,
    pub pickup_slot_id: Option<PickupSlotId>,
    pub address: String,
    pub address_remark: Option<String>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub courier_id: Option<CourierId>,
    pub processed_at: Option<DateTime<Utc>>,
    pub processed_by: Option<UserId>,
    /// Why it was rejected, cancelled, refunded or marked an exception.
    pub status_reason: Option<String>,
    pub intro: Option<String>,
    pub client_kind: ClientKind,
    pub fulfilled_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
}

impl Order {
    fn new(o: order::Model, lines: Vec<order_line::Model>) -> Self {
        Self {
            id: o.id,
            order_no: o.order_no,
            community_id: o.community_id,
            merchant_id: o.merchant_id,
            group_buy_id: o.group_buy_id,
            household_id: o.household_id,
            submitted_by: o.user_id,
            status: o.status,
            amount: o.amount,
            payment_method: o.payment_method,
            paid_at: o.paid_at,
            payment_deadline: o.payment_deadline,
            fulfilment: o.fulfilment,
            pickup_point_id: o.pickup_point_id,
            pickup_slot_id: o.pickup_slot_id,
            address: o.address,
            address_remark: o.address_remark,
            delivery_time: o.delivery_time,
            courier_id: o.courier_id,
            processed_at: o.processed_at,
            processed_by: o.processed_by,
            status_reason: o.status_reason,
            intro: o.intro,
            client_kind: o.client_kind,
            fulfilled_at: o.fulfilled_at,
            confirmed_at: o.confirmed_at,
            created_at: o.created_at,
            updated_at: o.updated_at,
            lines: lines.into_iter().map(OrderLine::from).collect(),
        }
    }
}

/// Orders with their lines (one query for all the lines).
pub async fn with_lines<C: ConnectionTrait>(
    db: &C,
    orders: Vec<order::Model>,
) -> ApiResult<Vec<Order>> {
    let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let mut lines: HashMap<OrderId, Vec<order_line::Model>> = HashMap::new();
    if !ids.is_empty() {
        for l in order_line::Entity::find()
            .filter(order_line::Column::OrderId.is_in(ids))
            .order_by_asc(order_line::Column::Id)
            .all(db)
            .await?
        {
            lines.entry(l.order_id).or_default().push(l);
        }
    }
    Ok(orders
        .into_iter()
        .map(|o| {
            let l = lines.remove(&o.id).unwrap_or_default();
            Order::new(o, l)
        })
        .collect())
}

/// One order with its lines.
pub async fn one_order<C: ConnectionTrait>(db: &C, o: order::Model) -> ApiResult<Order> {
    with_lines(db, vec![o])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

async fn page_of(
    db: &sea_orm::DatabaseConnection,
    page: Page<order::Model>,
) -> ApiResult<Page<Order>> {
    Ok(Page {
        items: with_lines(db, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderEvent {
    /// Absent for the system (timeouts, cascades).
    pub actor_id: Option<UserId>,
    pub actor_role: ActorRole,
    /// Absent for the submission.
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Refund {
    pub id: entity::RefundId,
    /// Fen.
    pub amount: Fen,
    pub reason: String,
    pub status: RefundStatus,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Where the order was submitted from (shown to property staff).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub ip: String,
    pub user_agent: String,
    pub kind: ClientKind,
}

/// A pickup code the caller holds for this order.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldCode {
    pub code: String,
    /// A code for collecting on someone's behalf (代取).
    pub delegated: bool,
}

/// An order with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: Order,
    /// Every move, oldest first.
    pub events: Vec<OrderEvent>,
    pub refunds: Vec<Refund>,
    /// The caller's live pickup codes for it.
    pub pickup_codes: Vec<HeldCode>,
    /// Only for property staff and operators.
    pub client: Option<ClientView>,
}

async fn detail(
    state: &AppState,
    o: order::Model,
    viewer: UserId,
    show_client: bool,
) -> ApiResult<OrderDetail> {
    let events = order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(o.id))
        .order_by_asc(order_event::Column::Id)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| OrderEvent {
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            from: e.from_status,
            to: e.to_status,
            reason: e.reason,
            at: e.created_at,
        })
        .collect();
    let refunds = crate::payment::refunds_of(&state.db, o.id)
        .await?
        .into_iter()
        .map(|r| Refund {
            id: r.id,
            amount: r.amount,
            reason: r.reason,
            status: r.status,
            created_at: r.created_at,
            completed_at: r.completed_at,
        })
        .collect();
    let pickup_codes = crate::pickup::service::codes_held(&state.db, state, viewer, Some(o.id))
        .await?
        .into_iter()
        .map(|(c, code)| HeldCode {
            code,
            delegated: c.delegated,
        })
        .collect();
    let client = show_client.then(|| ClientView {
        ip: o.client_ip.clone(),
        user_agent: o.user_agent.clone(),
        kind: o.client_kind,
    });
    let order = one_order(&state.db, o).await?;
    Ok(OrderDetail {
        order,
        events,
        refunds,
        pickup_codes,
        client,
    })
}

// ---------------------------------------------------------------- submitting

/// Refuses callers without a household here (staff and operators act
/// through their own routes).
pub fn require_resident(scope: &CommunityScope) -> ApiResult<()> {
    if scope.memberships.is_empty() {
        return Err(ApiError::new(
            ErrorCode::NotAResident,
            "only verified residents of this community can do this",
        ));
    }
    Ok(())
}

/// The household the caller orders for: the one named, or their only one
/// here. Staff and operators without a household here are refused.
pub fn ordering_household(
    scope: &CommunityScope,
    named: Option<HouseholdId>,
) -> ApiResult<HouseholdId> {
    require_resident(scope)?;
    match named {
        Some(h) if scope.membership(h).is_some() => Ok(h),
        Some(_) => Err(ApiError::invalid_field(
            "household_id",
            "you are not a verified member of this household",
        )),
        None if scope.memberships.len() == 1 => Ok(scope.memberships[0].household_id),
        None => Err(ApiError::invalid_field(
            "household_id",
            "you belong to several households here; say which one this order is for",
        )),
    }
}

/// How an order is to reach the resident.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receiving {
    pub fulfilment: Fulfilment,
    /// For pickup: one of the offered pickup points.
    pub pickup_point_id: Option<PickupPointId>,
    /// For delivery: the address, if not the household's own.
    pub address: Option<String>,
    /// Required with an address other than the household's (at most 200 characters).
    pub address_remark: Option<String>,
    /// For delivery: when the resident would like it.
    pub delivery_time: Option<DateTime<Utc>>,
}

/// Checks how the order is to be received; returns (point, address,
/// remark, delivery time).
pub async fn resolve_receiving(
    state: &AppState,
    community: CommunityId,
    household: HouseholdId,
    r: &Receiving,
    points_offered: Option<&[PickupPointId]>,
    door_delivery: bool,
) -> ApiResult<(
    Option<PickupPointId>,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
)> {
    let home = crate::structure::service::household_address(&state.db, household)
        .await?
        .ok_or_else(ApiError::not_found)?;
    match r.fulfilment {
        Fulfilment::Pickup => {
            let point = r
                .pickup_point_id
                .ok_or_else(|| ApiError::invalid_field("pickup_point_id", "required for pickup"))?;
            let offered = match points_offered {
                Some(points) => points.contains(&point),
                None => pickup_point::Entity::find_by_id(point)
                    .filter(pickup_point::Column::CommunityId.eq(community))
                    .one(&state.db)
                    .await?
                    .is_some_and(|p| p.active),
            };
            if !offered {
                return Err(ApiError::invalid_field(
                    "pickup_point_id",
                    "not a pickup point offered for this order",
                ));
            }
            Ok((Some(point), home, None, None))
        }
        Fulfilment::Delivery => {
            if !door_delivery {
                return Err(ApiError::invalid_field(
                    "fulfilment",
                    "this group buy does not deliver to the door; choose a pickup point",
                ));
            }
            let remark = r
                .address_remark
                .as_deref()
                .map(|v| crate::kernel::text::required("address_remark", v, 200))
                .transpose()?;
            let address = match r.address.as_deref().map(str::trim) {
                None | Some("") => home.clone(),
                Some(a) => crate::kernel::text::required("address", a, 200)?,
            };
            if address != home && remark.is_none() {
                return Err(ApiError::invalid_field(
                    "address_remark",
                    "say why the order goes to an address other than your household's",
                ));
            }
            if let Some(t) = r.delivery_time
                && t < clock::now()
            {
                return Err(ApiError::invalid_field(
                    "delivery_time",
                    "must be in the future",
                ));
            }
            Ok((None, address, remark, r.delivery_time))
        }
    }
}

/// The optional self-introduction shown to a group buy's participants.
pub fn parse_intro(intro: Option<&str>) -> ApiResult<Option<String>> {
    match intro.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => crate::kernel::text::required("intro", v, 100).map(Some),
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductQuantity {
    pub product_id: ProductId,
    /// 1 to 999.
    pub quantity: u32,
}

/// A catalog order from one merchant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCatalogOrder {
    pub merchant_id: MerchantId,
    /// Required when you belong to several households here.
    pub household_id: Option<HouseholdId>,
    /// 1 to 50 lines, each product once.
    pub lines: Vec<ProductQuantity>,
    pub receiving: Receiving,
}

pub fn check_quantity(quantity: u32) -> ApiResult<()> {
    if (1..=999).contains(&quantity) {
        Ok(())
    } else {
        Err(ApiError::invalid_field("quantity", "between 1 and 999"))
    }
}

/// The status an order creation answers with: 201 for a new order, 200 for
/// a replayed `Idempotency-Key`.
/// The answer to an order submission, built from what was written (no
/// re-read): 201, or 200 with `Idempotent-Replayed` for a replayed key.
pub fn created(submitted: service::Submitted) -> HttpResponse {
    let order = Order::new(submitted.order, submitted.lines);
    if submitted.replayed {
        HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(order)
    } else {
        HttpResponse::Created().json(order)
    }
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
    let idem = Idempotency::from_request(&req, &serde_json::to_value(&body).unwrap_or_default())?;
    let household = ordering_household(&scope, body.household_id)?;
    crate::merchant::service::ensure_selling(&state.db, body.merchant_id, scope.id()).await?;
    if body.lines.is_empty() || body.lines.len() > 50 {
        return Err(ApiError::invalid_field("lines", "1 to 50 lines"));
    }
    let ids: Vec<ProductId> = body.lines.iter().map(|l| l.product_id).collect();
    let products: HashMap<ProductId, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(ids.clone()))
        .filter(product::Column::MerchantId.eq(body.merchant_id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let hidden: Vec<entity::CategoryId> = category::Entity::find()
        .filter(category::Column::Active.eq(false))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut lines = Vec::new();
    for (i, l) in body.lines.iter().enumerate() {
        check_quantity(l.quantity)?;
        if ids[..i].contains(&l.product_id) {
            return Err(ApiError::invalid_field("lines", "list each product once"));
        }
        let p = products
            .get(&l.product_id)
            .filter(|p| p.on_shelf && !hidden.contains(&p.category_id))
            .ok_or_else(|| {
                ApiError::invalid_field("product_id", "not on this merchant's shelf")
                    .with_details(serde_json::json!({ "product_id": l.product_id }))
            })?;
        lines.push(LineSpec {
            product_id: Some(p.id),
            item_id: None,
            title: p.title.clone(),
            unit: p.unit.clone(),
            unit_price: p.price,
            quantity: l.quantity,
            product_stock: p.stock.is_some(),
            per_household_limit: None,
        });
    }
    let (point, address, remark, delivery_time) =
        resolve_receiving(&state, scope.id(), household, &body.receiving, None, true).await?;
    let timeout = chrono::Duration::minutes(i64::from(state.settings.payment.unpaid_timeout_mins));
    let submitted = service::submit(
        &state.db,
        NewOrder {
            community_id: scope.id(),
            merchant_id: Some(body.merchant_id),
            group_buy_id: None,
            user_id: caller.user.id,
            household_id: household,
            lines,
            fulfilment: body.receiving.fulfilment,
            pickup_point_id: point,
            address,
            address_remark: remark,
            delivery_time,
            intro: None,
            client: ClientInfo::from_request(&req, &state.settings),
            idempotency: idem,
            payment_deadline: clock::now() + timeout,
        },
    )
    .await?;
    Ok(created(submitted))
}

// ---------------------------------------------------------------- residents

/// The order, if the caller may see it here: their household's order, or
/// any order of the community for its staff.
async fn visible_order(
    state: &AppState,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = order::Entity::find_by_id(id)
        .filter(order::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if scope.membership(o.household_id).is_some()
        || scope.has_any_role(crate::auth::access::ORDER_STAFF)
    {
        Ok(o)
    } else {
        Err(ApiError::not_found())
    }
}

/// The order, if it belongs to one of the caller's households here.
pub async fn own_order(
    state: &AppState,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    require_resident(scope)?;
    let o = order::Entity::find_by_id(id)
        .filter(order::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if scope.membership(o.household_id).is_some() {
        Ok(o)
    } else {
        Err(ApiError::not_found())
    }
}

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
    let o = visible_order(&state, &scope, path.1).await?;
    let staff = scope.has_any_role(crate::auth::access::ORDER_STAFF);
    Ok(web::Json(detail(&state, o, caller.user.id, staff).await?))
}

/// An order being paid, and what the client does next.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paying {
    #[serde(flatten)]
    pub order: Order,
    pub payment: crate::payment::PaymentStart,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// `wallet` pays from the household's wallet at once (refused with
    /// `insufficient_balance` when it holds too little); omitted, the
    /// configured provider takes the payment.
    pub method: Option<PayWith>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayWith {
    Wallet,
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
    let o = own_order(&state, &scope, path.1).await?;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    /// At most 200 characters.
    pub reason: Option<String>,
    /// Cancelling a paid order: `original` (default) refunds the way it was
    /// paid, `wallet` keeps the money in the household's wallet.
    #[serde(default)]
    pub refund_to: crate::payment::RefundTo,
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
    let o = own_order(&state, &scope, path.1).await?;
    let body = body.into_inner();
    let refund_to = body.refund_to;
    let reason = body
        .reason
        .map(|r| crate::kernel::text::required("reason", &r, 200))
        .transpose()?;
    let txn = begin_write(&state.db).await?;
    if o.status == OrderStatus::Paid
        && let Some(g) = o.group_buy_id
    {
        let group = entity::group_buy::Entity::find_by_id(g)
            .one(&txn)
            .await?
            .ok_or_else(ApiError::not_found)?;
        // Until the group succeeds (also while it is paused, if it had not
        // succeeded before).
        let open = group.status == entity::GroupBuyStatus::Open
            || (group.status == entity::GroupBuyStatus::Paused && group.succeeded_at.is_none());
        if !open {
            return Err(ApiError::new(
                ErrorCode::InvalidTransition,
                "the group buy has already succeeded; a paid order can no longer be cancelled",
            ));
        }
    }
    let moved = advance(
        &txn,
        &state.settings,
        &o,
        OrderStatus::Cancelled,
        Actor::resident(caller.user.id),
        MoveDetails {
            reason,
            refund_to,
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
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
    let o = own_order(&state, &scope, path.1).await?;
    if !matches!(o.status, OrderStatus::Dispatched | OrderStatus::Delivered) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "only a dispatched or delivered order can be confirmed (this one is {})",
                o.status
            ),
        ));
    }
    let txn = begin_write(&state.db).await?;
    let moved = advance(
        &txn,
        &state.settings,
        &o,
        OrderStatus::Completed,
        Actor::resident(caller.user.id),
        MoveDetails::default(),
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(one_order(&state.db, moved).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub group_buy_id: Option<GroupBuyId>,
    pub merchant_id: Option<MerchantId>,
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
    let select = filtered(
        order::Entity::find().filter(order::Column::UserId.eq(caller.user.id)),
        &filter,
    );
    let page = query
        .parse()?
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page_of(&state.db, page).await?))
}

fn filtered(
    mut select: sea_orm::Select<order::Entity>,
    f: &OrderFilter,
) -> sea_orm::Select<order::Entity> {
    if let Some(s) = f.status {
        select = select.filter(order::Column::Status.eq(s));
    }
    if let Some(g) = f.group_buy_id {
        select = select.filter(order::Column::GroupBuyId.eq(g));
    }
    if let Some(m) = f.merchant_id {
        select = select.filter(order::Column::MerchantId.eq(m));
    }
    select
}

// ---------------------------------------------------------------- sellers

/// A seller's move of an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderMove {
    /// `accepted`, `rejected` (reason required), `preparing`, `dispatched`
    /// (door delivery), `ready_for_pickup` (pickup), `delivered`,
    /// `exception` (reason required), or `refunded` (from an exception).
    pub status: OrderStatus,
    pub reason: Option<String>,
    /// The courier taking it (with `dispatched`).
    pub courier_id: Option<CourierId>,
}

/// Applies a seller's move (merchant staff, or property staff for the
/// property's own group buys).
async fn seller_move(
    state: &AppState,
    o: order::Model,
    body: OrderMove,
    actor: Actor,
) -> ApiResult<order::Model> {
    use OrderStatus::*;
    if !matches!(
        body.status,
        Accepted
            | Rejected
            | Preparing
            | Dispatched
            | ReadyForPickup
            | Delivered
            | Exception
            | Refunded
    ) {
        return Err(ApiError::invalid_field(
            "status",
            "sellers move orders to accepted, rejected, preparing, dispatched, ready_for_pickup, delivered, exception or refunded",
        ));
    }
    let reason = body
        .reason
        .as_deref()
        .map(|r| crate::kernel::text::required("reason", r, 200))
        .transpose()?;
    if matches!(body.status, Rejected | Exception | Refunded) && reason.is_none() {
        return Err(ApiError::invalid_field("reason", "say why"));
    }
    match (body.status, o.fulfilment) {
        (Dispatched | Delivered, Fulfilment::Pickup) => {
            return Err(ApiError::invalid_field(
                "status",
                "this order is collected at a pickup point",
            ));
        }
        (ReadyForPickup, Fulfilment::Delivery) => {
            return Err(ApiError::invalid_field(
                "status",
                "this order is delivered to the door",
            ));
        }
        _ => {}
    }
    if body.status == Refunded && o.status != Exception {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "sellers refund only orders marked as an exception (reject a paid order instead)",
        ));
    }
    if o.group_buy_id.is_some() && body.status == Accepted {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "group-buy orders are accepted together when the group buy starts fulfilling",
        ));
    }
    if let Some(courier) = body.courier_id {
        service::ensure_courier_may_carry(&state.db, &o, courier).await?;
    }
    let txn = begin_write(&state.db).await?;
    let moved = advance(
        &txn,
        &state.settings,
        &o,
        body.status,
        actor,
        MoveDetails {
            reason,
            courier_id: body.courier_id,
            ..Default::default()
        },
    )
    .await?;
    if moved.status == ReadyForPickup {
        crate::pickup::service::order_ready(&txn, state, &moved).await?;
    }
    txn.commit().await?;
    Ok(moved)
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
    let select = filtered(
        order::Entity::find().filter(order::Column::MerchantId.eq(scope.merchant.id)),
        &filter,
    );
    let page = query
        .parse()?
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page_of(&state.db, page).await?))
}

async fn merchant_order(
    state: &AppState,
    scope: &MerchantScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)
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
    let o = merchant_order(&state, &scope, path.1).await?;
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
    let o = merchant_order(&state, &scope, path.1).await?;
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
    let select = filtered(
        order::Entity::find().filter(order::Column::CommunityId.eq(scope.id())),
        &filter,
    );
    let page = query
        .parse()?
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page_of(&state.db, page).await?))
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
    let o = order::Entity::find_by_id(path.1)
        .filter(order::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if o.merchant_id.is_some() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the merchant handles this order",
        ));
    }
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
