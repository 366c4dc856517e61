//! Group buys over HTTP: merchants (and the property) open and run them,
//! residents of the community see and join them.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    CommunityId, Fen, GroupBuyId, GroupBuyItemId, GroupBuyStatus, HouseholdId, MerchantId,
    OrganiserKind, PickupPointId, ProductId, group_buy, group_buy_item, group_buy_pickup_point,
    pickup_point, product, user,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{move_group, resume};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::flows::group_buys::settle_called_off;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::orders::routes::{
    Order, Receiving, check_quantity, created, ordering_household, parse_intro, resolve_receiving,
};
use crate::orders::service::{self, Actor, ClientInfo, Idempotency, LineSpec, NewOrder};
use crate::state::AppState;

// ---------------------------------------------------------------- views

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuyItem {
    pub id: GroupBuyItemId,
    pub product_id: Option<ProductId>,
    pub title: String,
    pub unit: String,
    /// Fen: the group price.
    pub price: Fen,
    /// Fen: the usual price, struck through.
    pub original_price: Option<Fen>,
    /// Units left.
    pub stock: i64,
    pub initial_stock: i64,
    pub per_household_limit: Option<i32>,
    pub sort_order: i32,
}

impl From<group_buy_item::Model> for GroupBuyItem {
    fn from(i: group_buy_item::Model) -> Self {
        Self {
            id: i.id,
            product_id: i.product_id,
            title: i.title,
            unit: i.unit,
            price: i.price,
            original_price: i.original_price,
            stock: i.stock,
            initial_stock: i.initial_stock,
            per_household_limit: i.per_household_limit,
            sort_order: i.sort_order,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuy {
    pub id: GroupBuyId,
    pub community_id: CommunityId,
    /// The organising merchant; absent when the property organises it.
    pub merchant_id: Option<MerchantId>,
    pub organiser_kind: OrganiserKind,
    pub title: String,
    pub description: String,
    /// 成团人数: distinct paying households needed.
    pub min_households: i32,
    /// Distinct households that have paid so far.
    pub households_joined: i64,
    pub starts_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub pickup_starts_at: Option<DateTime<Utc>>,
    pub pickup_ends_at: Option<DateTime<Utc>>,
    pub door_delivery: bool,
    pub status: GroupBuyStatus,
    pub status_reason: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub pickup_point_ids: Vec<PickupPointId>,
    pub items: Vec<GroupBuyItem>,
    pub created_at: DateTime<Utc>,
}

async fn view<C: ConnectionTrait>(db: &C, g: group_buy::Model) -> ApiResult<GroupBuy> {
    let items = group_buy_item::Entity::find()
        .filter(group_buy_item::Column::GroupBuyId.eq(g.id))
        .order_by_asc(group_buy_item::Column::SortOrder)
        .order_by_asc(group_buy_item::Column::Id)
        .all(db)
        .await?;
    let points = group_buy_pickup_point::Entity::find()
        .filter(group_buy_pickup_point::Column::GroupBuyId.eq(g.id))
        .all(db)
        .await?;
    Ok(GroupBuy {
        households_joined: service::paying_households(db, g.id).await?,
        id: g.id,
        community_id: g.community_id,
        merchant_id: g.merchant_id,
        organiser_kind: g.organiser_kind,
        title: g.title,
        description: g.description,
        min_households: g.min_households,
        starts_at: g.starts_at,
        deadline: g.deadline,
        pickup_starts_at: g.pickup_starts_at,
        pickup_ends_at: g.pickup_ends_at,
        door_delivery: g.door_delivery,
        status: g.status,
        status_reason: g.status_reason,
        succeeded_at: g.succeeded_at,
        pickup_point_ids: points.into_iter().map(|p| p.pickup_point_id).collect(),
        items: items.into_iter().map(GroupBuyItem::from).collect(),
        created_at: g.created_at,
    })
}

async fn views(
    db: &sea_orm::DatabaseConnection,
    page: Page<group_buy::Model>,
) -> ApiResult<Page<GroupBuy>> {
    let mut items = Vec::with_capacity(page.items.len());
    for g in page.items {
        items.push(view(db, g).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// A participant's self-introduction (shown to the other participants).
#[derive(Debug, Serialize, ToSchema)]
pub struct Introduction {
    /// The participant's name, masked (`王**`).
    pub name: String,
    pub intro: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuyDetail {
    pub group_buy: GroupBuy,
    /// Participants' introductions: shown to participants and staff only.
    pub introductions: Vec<Introduction>,
}

// ---------------------------------------------------------------- organising

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBuyItem {
    /// A product of the organising merchant's catalog (title and unit
    /// default to the product's).
    pub product_id: Option<ProductId>,
    /// At most 60 characters (required without a product).
    pub title: Option<String>,
    /// At most 16 characters (required without a product).
    pub unit: Option<String>,
    /// Fen: the group price.
    pub price: Fen,
    /// Fen: the usual price (default: the product's price).
    pub original_price: Option<Fen>,
    /// Units on offer (1 or more).
    pub stock: i64,
    /// At most this many units per household.
    pub per_household_limit: Option<i32>,
    pub sort_order: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBuy {
    /// Merchants say which community (the property's route names it in the path).
    pub community_id: Option<CommunityId>,
    /// At most 60 characters.
    pub title: String,
    /// At most 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// 成团人数: distinct paying households needed (1 to 10,000).
    pub min_households: i32,
    /// When it starts taking orders (default: when published).
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops taking orders; below the minimum then, it fails and
    /// every paid order is refunded.
    pub deadline: DateTime<Utc>,
    pub pickup_starts_at: Option<DateTime<Utc>>,
    pub pickup_ends_at: Option<DateTime<Utc>>,
    /// Whether residents may ask for door delivery.
    #[serde(default)]
    pub door_delivery: bool,
    /// Where it can be collected (this community's active points).
    #[serde(default)]
    pub pickup_point_ids: Vec<PickupPointId>,
    /// 1 to 50 items.
    pub items: Vec<NewGroupBuyItem>,
    /// Open it at once (default: a draft).
    #[serde(default)]
    pub publish: bool,
}

/// A group buy's details, checked and ready to write (for a new group buy
/// or an edited draft).
struct Plan {
    id: GroupBuyId,
    title: String,
    description: String,
    min_households: i32,
    starts_at: DateTime<Utc>,
    deadline: DateTime<Utc>,
    pickup_starts_at: Option<DateTime<Utc>>,
    pickup_ends_at: Option<DateTime<Utc>>,
    door_delivery: bool,
    points: Vec<PickupPointId>,
    items: Vec<group_buy_item::ActiveModel>,
}

/// Checks `body` for group buy `id` in `community`, organised by `merchant`
/// (none: the property).
async fn plan(
    state: &AppState,
    id: GroupBuyId,
    community: CommunityId,
    merchant: Option<MerchantId>,
    body: NewGroupBuy,
    now: DateTime<Utc>,
) -> ApiResult<Plan> {
    let title = crate::kernel::text::required("title", &body.title, 60)?;
    let description = body.description.trim().to_owned();
    if description.chars().count() > 2000 {
        return Err(ApiError::invalid_field(
            "description",
            "at most 2,000 characters",
        ));
    }
    if !(1..=10_000).contains(&body.min_households) {
        return Err(ApiError::invalid_field(
            "min_households",
            "between 1 and 10,000",
        ));
    }
    let starts_at = body.starts_at.unwrap_or(now);
    if body.deadline <= now || body.deadline <= starts_at {
        return Err(ApiError::invalid_field(
            "deadline",
            "must be in the future and after starts_at",
        ));
    }
    match (body.pickup_starts_at, body.pickup_ends_at) {
        (Some(a), Some(b)) if b <= a => {
            return Err(ApiError::invalid_field(
                "pickup_ends_at",
                "must be after pickup_starts_at",
            ));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::invalid_field(
                "pickup_starts_at",
                "give both ends of the pickup window, or neither",
            ));
        }
        _ => {}
    }
    if body.pickup_point_ids.is_empty() && !body.door_delivery {
        return Err(ApiError::invalid_field(
            "pickup_point_ids",
            "offer a pickup point, door delivery, or both",
        ));
    }
    let mut points = body.pickup_point_ids.clone();
    points.sort();
    points.dedup();
    let found = pickup_point::Entity::find()
        .filter(pickup_point::Column::Id.is_in(points.clone()))
        .filter(pickup_point::Column::CommunityId.eq(community))
        .filter(pickup_point::Column::Active.eq(true))
        .all(&state.db)
        .await?;
    if found.len() != points.len() {
        return Err(ApiError::invalid_field(
            "pickup_point_ids",
            "not an active pickup point of this community",
        ));
    }
    if body.items.is_empty() || body.items.len() > 50 {
        return Err(ApiError::invalid_field("items", "1 to 50 items"));
    }
    let product_ids: Vec<ProductId> = body.items.iter().filter_map(|i| i.product_id).collect();
    let products: HashMap<ProductId, product::Model> = match merchant {
        Some(m) if !product_ids.is_empty() => product::Entity::find()
            .filter(product::Column::Id.is_in(product_ids))
            .filter(product::Column::MerchantId.eq(m))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect(),
        _ => HashMap::new(),
    };
    let mut items = Vec::new();
    for (n, i) in body.items.into_iter().enumerate() {
        let from = match i.product_id {
            Some(p) => Some(products.get(&p).ok_or_else(|| {
                ApiError::invalid_field("product_id", "not a product of the organising merchant")
            })?),
            None => None,
        };
        let title = match (&i.title, from) {
            (Some(t), _) => crate::kernel::text::required("title", t, 60)?,
            (None, Some(p)) => p.title.clone(),
            (None, None) => return Err(ApiError::invalid_field("title", "required")),
        };
        let unit = match (&i.unit, from) {
            (Some(u), _) => crate::kernel::text::required("unit", u, 16)?,
            (None, Some(p)) => p.unit.clone(),
            (None, None) => return Err(ApiError::invalid_field("unit", "required")),
        };
        let original = i.original_price.or(from.map(|p| p.price));
        if original.is_some_and(|o| o < i.price) {
            return Err(ApiError::invalid_field(
                "original_price",
                "must not be below the group price",
            ));
        }
        if !(1..=1_000_000).contains(&i.stock) {
            return Err(ApiError::invalid_field("stock", "between 1 and 1,000,000"));
        }
        if i.per_household_limit.is_some_and(|l| l < 1) {
            return Err(ApiError::invalid_field(
                "per_household_limit",
                "at least 1 (leave it out for no limit)",
            ));
        }
        items.push(group_buy_item::ActiveModel {
            id: Set(GroupBuyItemId::new()),
            group_buy_id: Set(id),
            product_id: Set(i.product_id),
            title: Set(title),
            unit: Set(unit),
            price: Set(i.price),
            original_price: Set(original),
            stock: Set(i.stock),
            initial_stock: Set(i.stock),
            per_household_limit: Set(i.per_household_limit),
            sort_order: Set(i.sort_order.unwrap_or(n as i32)),
        });
    }
    Ok(Plan {
        id,
        title,
        description,
        min_households: body.min_households,
        starts_at,
        deadline: body.deadline,
        pickup_starts_at: body.pickup_starts_at,
        pickup_ends_at: body.pickup_ends_at,
        door_delivery: body.door_delivery,
        points,
        items,
    })
}

impl Plan {
    /// The group buy row's own columns.
    fn row(&self, model: &mut group_buy::ActiveModel, now: DateTime<Utc>) {
        model.title = Set(self.title.clone());
        model.description = Set(self.description.clone());
        model.min_households = Set(self.min_households);
        model.starts_at = Set(self.starts_at);
        model.deadline = Set(self.deadline);
        model.pickup_starts_at = Set(self.pickup_starts_at);
        model.pickup_ends_at = Set(self.pickup_ends_at);
        model.door_delivery = Set(self.door_delivery);
        model.updated_at = Set(now);
    }

    /// Writes the items and pickup points (replacing any).
    async fn write_parts<C: ConnectionTrait>(self, txn: &C) -> ApiResult<()> {
        group_buy_item::Entity::delete_many()
            .filter(group_buy_item::Column::GroupBuyId.eq(self.id))
            .exec(txn)
            .await?;
        group_buy_pickup_point::Entity::delete_many()
            .filter(group_buy_pickup_point::Column::GroupBuyId.eq(self.id))
            .exec(txn)
            .await?;
        group_buy_item::Entity::insert_many(self.items)
            .exec_without_returning(txn)
            .await?;
        if !self.points.is_empty() {
            let id = self.id;
            group_buy_pickup_point::Entity::insert_many(self.points.into_iter().map(|p| {
                group_buy_pickup_point::ActiveModel {
                    group_buy_id: Set(id),
                    pickup_point_id: Set(p),
                }
            }))
            .exec_without_returning(txn)
            .await?;
        }
        Ok(())
    }
}

async fn create_group(
    state: &AppState,
    community: CommunityId,
    merchant: Option<MerchantId>,
    caller: &Caller,
    body: NewGroupBuy,
) -> ApiResult<GroupBuy> {
    let now = clock::now();
    let publish = body.publish;
    let plan = plan(state, GroupBuyId::new(), community, merchant, body, now).await?;
    let id = plan.id;
    let mut row = group_buy::ActiveModel {
        id: Set(id),
        community_id: Set(community),
        merchant_id: Set(merchant),
        organiser_kind: Set(match merchant {
            Some(_) => OrganiserKind::Merchant,
            None => OrganiserKind::Property,
        }),
        created_by: Set(caller.user.id),
        status: Set(if publish {
            GroupBuyStatus::Open
        } else {
            GroupBuyStatus::Draft
        }),
        status_reason: Set(None),
        succeeded_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    plan.row(&mut row, now);
    let txn = begin_write(&state.db).await?;
    group_buy::Entity::insert(row)
        .exec_without_returning(&txn)
        .await?;
    plan.write_parts(&txn).await?;
    txn.commit().await?;
    let saved = group_buy::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(&state.db, saved).await
}

/// Changes to a draft group buy: what is given replaces what was there
/// (`items` and `pickup_point_ids` whole); the result is checked like a new one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBuyChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub min_households: Option<i32>,
    pub starts_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    /// `null` clears the pickup window (give both ends or neither).
    #[serde(default, deserialize_with = "crate::kernel::http::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub pickup_starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::kernel::http::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub pickup_ends_at: Option<Option<DateTime<Utc>>>,
    pub door_delivery: Option<bool>,
    pub pickup_point_ids: Option<Vec<PickupPointId>>,
    /// Replaces every item (new item ids).
    pub items: Option<Vec<NewGroupBuyItem>>,
}

/// Applies `changes` to draft `g`: checked like a new group buy, written
/// only while it is still a draft (a concurrent publish wins).
async fn edit_draft(
    state: &AppState,
    g: group_buy::Model,
    changes: GroupBuyChanges,
) -> ApiResult<GroupBuy> {
    let not_draft = || {
        ApiError::new(
            ErrorCode::InvalidTransition,
            "only a draft can be edited; cancel it and open a new one",
        )
    };
    if g.status != GroupBuyStatus::Draft {
        return Err(not_draft());
    }
    let items = match changes.items {
        Some(items) => items,
        None => group_buy_item::Entity::find()
            .filter(group_buy_item::Column::GroupBuyId.eq(g.id))
            .order_by_asc(group_buy_item::Column::SortOrder)
            .order_by_asc(group_buy_item::Column::Id)
            .all(&state.db)
            .await?
            .into_iter()
            .map(|i| NewGroupBuyItem {
                product_id: i.product_id,
                title: Some(i.title),
                unit: Some(i.unit),
                price: i.price,
                original_price: i.original_price,
                stock: i.initial_stock,
                per_household_limit: i.per_household_limit,
                sort_order: Some(i.sort_order),
            })
            .collect(),
    };
    let pickup_point_ids = match changes.pickup_point_ids {
        Some(points) => points,
        None => group_buy_pickup_point::Entity::find()
            .filter(group_buy_pickup_point::Column::GroupBuyId.eq(g.id))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|p| p.pickup_point_id)
            .collect(),
    };
    let body = NewGroupBuy {
        community_id: None,
        title: changes.title.unwrap_or_else(|| g.title.clone()),
        description: changes.description.unwrap_or_else(|| g.description.clone()),
        min_households: changes.min_households.unwrap_or(g.min_households),
        starts_at: Some(changes.starts_at.unwrap_or(g.starts_at)),
        deadline: changes.deadline.unwrap_or(g.deadline),
        pickup_starts_at: changes.pickup_starts_at.unwrap_or(g.pickup_starts_at),
        pickup_ends_at: changes.pickup_ends_at.unwrap_or(g.pickup_ends_at),
        door_delivery: changes.door_delivery.unwrap_or(g.door_delivery),
        pickup_point_ids,
        items,
        publish: false,
    };
    let now = clock::now();
    let plan = plan(state, g.id, g.community_id, g.merchant_id, body, now).await?;
    let mut row = group_buy::ActiveModel::default();
    plan.row(&mut row, now);
    let txn = begin_write(&state.db).await?;
    let written = group_buy::Entity::update_many()
        .set(row)
        .filter(group_buy::Column::Id.eq(g.id))
        .filter(group_buy::Column::Status.eq(GroupBuyStatus::Draft))
        .exec(&txn)
        .await?
        .rows_affected;
    if written != 1 {
        return Err(not_draft());
    }
    plan.write_parts(&txn).await?;
    txn.commit().await?;
    let saved = group_buy::Entity::find_by_id(g.id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(&state.db, saved).await
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
    let g = group_buy::Entity::find_by_id(path.1)
        .filter(group_buy::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(web::Json(edit_draft(&state, g, body.into_inner()).await?))
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
    let g = group_here(&state, &scope, path.1).await?;
    if g.merchant_id.is_some() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the merchant runs this group buy; only the merchant edits it",
        ));
    }
    Ok(web::Json(edit_draft(&state, g, body.into_inner()).await?))
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
    let body = body.into_inner();
    let community = body
        .community_id
        .ok_or_else(|| ApiError::invalid_field("community_id", "required"))?;
    crate::merchant::service::ensure_selling(&state.db, scope.merchant.id, community).await?;
    let made = create_group(&state, community, Some(scope.merchant.id), &caller, body).await?;
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
    let body = body.into_inner();
    if body.community_id.is_some_and(|c| c != scope.id()) {
        return Err(ApiError::invalid_field(
            "community_id",
            "leave it out (the path names the community)",
        ));
    }
    if body.items.iter().any(|i| i.product_id.is_some()) {
        return Err(ApiError::invalid_field(
            "product_id",
            "the property's items are its own (give title and unit)",
        ));
    }
    let made = create_group(&state, scope.id(), None, &caller, body).await?;
    Ok(HttpResponse::Created().json(made))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupBuyFilter {
    pub status: Option<GroupBuyStatus>,
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
    let mut select =
        group_buy::Entity::find().filter(group_buy::Column::CommunityId.eq(scope.id()));
    if scope.roles.is_empty() && !scope.operator_admin {
        select = select.filter(group_buy::Column::Status.ne(GroupBuyStatus::Draft));
    }
    if let Some(s) = filter.status {
        select = select.filter(group_buy::Column::Status.eq(s));
    }
    let page = query
        .parse()?
        .fetch(select, group_buy::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(views(&state.db, page).await?))
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
    let mut select =
        group_buy::Entity::find().filter(group_buy::Column::MerchantId.eq(scope.merchant.id));
    if let Some(s) = filter.status {
        select = select.filter(group_buy::Column::Status.eq(s));
    }
    let page = query
        .parse()?
        .fetch(select, group_buy::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(views(&state.db, page).await?))
}

async fn group_here(
    state: &AppState,
    scope: &CommunityScope,
    id: GroupBuyId,
) -> ApiResult<group_buy::Model> {
    let g = group_buy::Entity::find_by_id(id)
        .filter(group_buy::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let staff = !scope.roles.is_empty() || scope.operator_admin;
    if !g.status.is_public() && !staff {
        return Err(ApiError::not_found());
    }
    Ok(g)
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
    let g = group_here(&state, &scope, path.1).await?;
    let paid = service::orders_of_group(&state.db, g.id, &entity::OrderStatus::PAID, None).await?;
    let staff = !scope.roles.is_empty() || scope.operator_admin;
    let participant = paid
        .iter()
        .any(|o| scope.membership(o.household_id).is_some());
    let mut introductions = Vec::new();
    if staff || participant {
        let with_intro: Vec<_> = paid.into_iter().filter(|o| o.intro.is_some()).collect();
        let names: HashMap<entity::UserId, String> = user::Entity::find()
            .filter(user::Column::Id.is_in(with_intro.iter().map(|o| o.user_id)))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        for o in with_intro {
            introductions.push(Introduction {
                name: crate::pii::masked_name(names.get(&o.user_id).map_or("", String::as_str)),
                intro: o.intro.unwrap_or_default(),
                joined_at: o.created_at,
            });
        }
    }
    Ok(web::Json(GroupBuyDetail {
        group_buy: view(&state.db, g).await?,
        introductions,
    }))
}

/// An organiser's move of a group buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBuyMove {
    /// `open` (publish a draft; the property: resume a paused group buy,
    /// which takes orders again as open or, if it had reached its minimum,
    /// succeeded), `closed` (stop selling early, once succeeded),
    /// `fulfilling`, `ready`, `completed` or `cancelled` (reason required;
    /// every paid order is refunded).
    pub status: GroupBuyStatus,
    pub reason: Option<String>,
}

async fn organiser_move(
    state: &AppState,
    g: group_buy::Model,
    body: GroupBuyMove,
    actor: Actor,
) -> ApiResult<GroupBuy> {
    use GroupBuyStatus::*;
    if matches!(body.status, Succeeded | Failed | Draft | Paused) {
        return Err(ApiError::invalid_field(
            "status",
            "succeeded and failed follow from payments and the deadline, paused from the merchant's standing",
        ));
    }
    let reason = body
        .reason
        .as_deref()
        .map(|r| crate::kernel::text::required("reason", r, 200))
        .transpose()?;
    if body.status == Cancelled && reason.is_none() {
        return Err(ApiError::invalid_field(
            "reason",
            "say why (the participants are told)",
        ));
    }
    if body.status == Open && g.deadline <= clock::now() {
        return Err(ApiError::new(
            ErrorCode::DeadlinePassed,
            "the deadline has passed; open a new group buy",
        ));
    }
    let txn = begin_write(&state.db).await?;
    let moved = if g.status == Paused && body.status == Open {
        resume(&txn, &state.settings, &g).await?
    } else {
        move_group(&txn, state, &g, body.status, actor, reason.as_deref()).await?
    };
    txn.commit().await?;
    if moved.status.refunds_orders() {
        // Refund at once; the sweeper finishes whatever this leaves.
        while settle_called_off(&state.db, &state.settings, state.settings.jobs.batch_size).await?
            > 0
        {}
    }
    view(&state.db, moved).await
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
    let g = group_buy::Entity::find_by_id(path.1)
        .filter(group_buy::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let body = body.into_inner();
    if g.status == GroupBuyStatus::Paused {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the property paused this group buy when your standing here changed; it decides whether it resumes or is cancelled",
        )
        .with_details(serde_json::json!({ "status": g.status, "requested": body.status })));
    }
    if body.status == GroupBuyStatus::Open {
        crate::merchant::service::ensure_selling(&state.db, scope.merchant.id, g.community_id)
            .await?;
    }
    Ok(web::Json(
        organiser_move(&state, g, body, Actor::merchant(caller.user.id)).await?,
    ))
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
    let g = group_here(&state, &scope, path.1).await?;
    let body = body.into_inner();
    let resuming = g.status == GroupBuyStatus::Paused && body.status == GroupBuyStatus::Open;
    if g.merchant_id.is_some() && body.status != GroupBuyStatus::Cancelled && !resuming {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the merchant runs this group buy; the property may only cancel it, or resume it once paused",
        ));
    }
    Ok(web::Json(
        organiser_move(&state, g, body, Actor::staff(caller.user.id)).await?,
    ))
}

// ---------------------------------------------------------------- joining

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemQuantity {
    pub item_id: GroupBuyItemId,
    /// 1 to 999.
    pub quantity: u32,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinGroupBuy {
    /// Required when you belong to several households here.
    pub household_id: Option<HouseholdId>,
    /// Each item once.
    pub items: Vec<ItemQuantity>,
    pub receiving: Receiving,
    /// A short self-introduction for the other participants (at most 100 characters).
    pub intro: Option<String>,
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
    let g = group_here(&state, &scope, path.1).await?;
    let now = clock::now();
    if let Some(merchant) = g.merchant_id {
        crate::merchant::service::ensure_selling(&state.db, merchant, scope.id()).await?;
    }
    if !g.status.takes_orders() || now < g.starts_at {
        return Err(ApiError::new(
            ErrorCode::GroupBuyNotOpen,
            match g.status {
                s if s.takes_orders() => format!("the group buy opens at {}", g.starts_at),
                s => format!("the group buy is {s}"),
            },
        ));
    }
    if now >= g.deadline {
        return Err(ApiError::new(
            ErrorCode::DeadlinePassed,
            "the group buy's deadline has passed",
        ));
    }
    if body.items.is_empty() {
        return Err(ApiError::invalid_field("items", "choose at least one item"));
    }
    // The items and the points offered, read side by side.
    let (items, points) = tokio::try_join!(
        group_buy_item::Entity::find()
            .filter(group_buy_item::Column::GroupBuyId.eq(g.id))
            .all(&state.db),
        group_buy_pickup_point::Entity::find()
            .filter(group_buy_pickup_point::Column::GroupBuyId.eq(g.id))
            .all(&state.db),
    )?;
    let items: HashMap<GroupBuyItemId, group_buy_item::Model> =
        items.into_iter().map(|i| (i.id, i)).collect();
    let points: Vec<PickupPointId> = points.into_iter().map(|p| p.pickup_point_id).collect();
    let mut lines = Vec::new();
    for (n, wanted) in body.items.iter().enumerate() {
        check_quantity(wanted.quantity)?;
        if body.items[..n].iter().any(|w| w.item_id == wanted.item_id) {
            return Err(ApiError::invalid_field("items", "list each item once"));
        }
        let item = items
            .get(&wanted.item_id)
            .ok_or_else(|| ApiError::invalid_field("item_id", "not an item of this group buy"))?;
        lines.push(LineSpec {
            product_id: item.product_id,
            item_id: Some(item.id),
            title: item.title.clone(),
            unit: item.unit.clone(),
            unit_price: item.price,
            quantity: wanted.quantity,
            product_stock: false,
            per_household_limit: item.per_household_limit,
        });
    }
    let (point, address, remark, delivery_time) = resolve_receiving(
        &state,
        scope.id(),
        household,
        &body.receiving,
        Some(&points),
        g.door_delivery,
    )
    .await?;
    let timeout = chrono::Duration::minutes(i64::from(state.settings.payment.unpaid_timeout_mins));
    let submitted = service::submit(
        &state.db,
        NewOrder {
            community_id: scope.id(),
            merchant_id: g.merchant_id,
            group_buy_id: Some(g.id),
            user_id: caller.user.id,
            household_id: household,
            lines,
            fulfilment: body.receiving.fulfilment,
            pickup_point_id: point,
            address,
            address_remark: remark,
            delivery_time,
            intro: parse_intro(body.intro.as_deref())?,
            client: ClientInfo::from_request(&req, &state.settings),
            idempotency: idem,
            payment_deadline: (now + timeout).min(g.deadline),
        },
    )
    .await?;
    Ok(created(submitted))
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
