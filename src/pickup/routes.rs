//! Pickup over HTTP: slots, codes and verification (核销), collectors
//! (代取), the uncollected report and each point's message board.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use entity::{
    CommunityId, Fulfilment, OrderId, OrderStatus, PickupNoteId, PickupPointId, PickupSlotId,
    UserId, household_member, order, pickup_note, pickup_point, pickup_slot, user,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::orders::routes::{Order, one_order, with_lines};
use crate::state::AppState;

async fn point_here(
    state: &AppState,
    scope: &CommunityScope,
    id: PickupPointId,
) -> ApiResult<pickup_point::Model> {
    pickup_point::Entity::find_by_id(id)
        .filter(pickup_point::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)
}

// ---------------------------------------------------------------- slots

#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    pub id: PickupSlotId,
    pub pickup_point_id: PickupPointId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    /// Places left.
    pub available: i32,
}

impl From<pickup_slot::Model> for Slot {
    fn from(s: pickup_slot::Model) -> Self {
        Self {
            id: s.id,
            pickup_point_id: s.pickup_point_id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            capacity: s.capacity,
            available: (s.capacity - s.booked).max(0),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotPlan {
    /// The first day, in the community's time (`2026-11-24`).
    pub from: NaiveDate,
    /// How many days (1 to 14).
    pub days: u32,
    /// Minutes per slot (10 to 240).
    pub slot_minutes: u32,
    /// People per slot (1 to 1,000).
    pub capacity: i32,
}

/// Cut the point's opening hours into bookable slots. Slots that already
/// exist are kept as they are (generating twice is harmless).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/slots", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)), request_body = SlotPlan,
    responses((status = 201, body = [Slot]), (status = 422, body = ErrorBody)))]
pub async fn generate_slots(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, PickupPointId)>,
    body: Json<SlotPlan>,
) -> ApiResult<HttpResponse> {
    let point = point_here(&state, &scope, path.1).await?;
    let plan = body.into_inner();
    if !(1..=14).contains(&plan.days) {
        return Err(ApiError::invalid_field("days", "between 1 and 14"));
    }
    if !(10..=240).contains(&plan.slot_minutes) {
        return Err(ApiError::invalid_field(
            "slot_minutes",
            "between 10 and 240",
        ));
    }
    if !(1..=1000).contains(&plan.capacity) {
        return Err(ApiError::invalid_field("capacity", "between 1 and 1,000"));
    }
    let tz: chrono_tz::Tz = scope
        .community
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let now = clock::now();
    let slots = service::plan_slots(
        &point,
        &tz,
        plan.from,
        plan.days,
        plan.slot_minutes,
        plan.capacity,
        now,
    );
    if slots.is_empty() {
        return Err(ApiError::invalid_field(
            "from",
            "the point is not open on these days (or they have passed)",
        ));
    }
    let first = plan.from;
    pickup_slot::Entity::insert_many(slots)
        .on_conflict(
            OnConflict::columns([
                pickup_slot::Column::PickupPointId,
                pickup_slot::Column::StartsAt,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    let from = tz
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now, |t| t.with_timezone(&Utc));
    let made = pickup_slot::Entity::find()
        .filter(pickup_slot::Column::PickupPointId.eq(point.id))
        .filter(pickup_slot::Column::StartsAt.gte(from))
        .filter(pickup_slot::Column::StartsAt.lt(from + Duration::days(i64::from(plan.days))))
        .order_by_asc(pickup_slot::Column::StartsAt)
        .all(&state.db)
        .await?;
    Ok(HttpResponse::Created().json(made.into_iter().map(Slot::from).collect::<Vec<_>>()))
}

/// The point's upcoming slots, with places left.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/slots", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)),
    responses((status = 200, body = [Slot])))]
pub async fn list_slots(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, PickupPointId)>,
) -> ApiResult<web::Json<Vec<Slot>>> {
    let point = point_here(&state, &scope, path.1).await?;
    let slots = pickup_slot::Entity::find()
        .filter(pickup_slot::Column::PickupPointId.eq(point.id))
        .filter(pickup_slot::Column::EndsAt.gt(clock::now()))
        .order_by_asc(pickup_slot::Column::StartsAt)
        .limit(500)
        .all(&state.db)
        .await?;
    Ok(web::Json(slots.into_iter().map(Slot::from).collect()))
}

/// An order of the caller's household here, collected at a pickup point.
async fn own_pickup_order(
    state: &AppState,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = crate::orders::routes::own_order(state, scope, id).await?;
    if o.fulfilment != Fulfilment::Pickup {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "this order is delivered to the door",
        ));
    }
    if o.status.is_final() {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("the order is {}", o.status),
        ));
    }
    Ok(o)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotChoice {
    pub slot_id: PickupSlotId,
}

/// Book (or change) the time to collect an order at its pickup point.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/pickup-slot", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = SlotChoice,
    responses((status = 200, body = Order), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn book_slot(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<SlotChoice>,
) -> ApiResult<web::Json<Order>> {
    let o = own_pickup_order(&state, &scope, path.1).await?;
    let slot = pickup_slot::Entity::find_by_id(body.0.slot_id)
        .one(&state.db)
        .await?
        .filter(|s| Some(s.pickup_point_id) == o.pickup_point_id)
        .ok_or_else(|| {
            ApiError::invalid_field("slot_id", "not a slot of the order's pickup point")
        })?;
    if slot.starts_at <= clock::now() {
        return Err(ApiError::invalid_field("slot_id", "this slot has begun"));
    }
    let txn = begin_write(&state.db).await?;
    service::book_slot(&txn, &o, slot.id).await?;
    txn.commit().await?;
    let o = order::Entity::find_by_id(o.id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(web::Json(one_order(&state.db, o).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// The neighbour's phone number: a verified resident of this community.
    pub phone: String,
}

/// Name a verified neighbour to collect an order waiting at its pickup
/// point (代取). They get a code of their own; naming another revokes it.
/// The answer is 204 whether or not the number is a verified resident's
/// (so it tells nobody who lives here): only a resident gets a code and a
/// message.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/orders/{order_id}/collector", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("order_id" = OrderId, Path)), request_body = Collector,
    responses((status = 204), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn name_collector(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, OrderId)>,
    body: Json<Collector>,
) -> ApiResult<HttpResponse> {
    let o = own_pickup_order(&state, &scope, path.1).await?;
    if o.status != OrderStatus::ReadyForPickup {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "a collector can be named once the order is at the pickup point",
        ));
    }
    let phone = crate::pii::PhoneNumber::parse(&body.0.phone)
        .map_err(|e| ApiError::invalid_field("phone", e))?;
    let found = user::Entity::find()
        .filter(user::Column::PhoneHash.eq(phone.lookup_hash(&state.pii)))
        .one(&state.db)
        .await?;
    if found.as_ref().is_some_and(|u| u.id == caller.user.id) {
        return Err(ApiError::invalid_field("phone", "that is you"));
    }
    // Only a verified resident here gets a code. The answer is the same
    // either way, so that naming a number never tells whether it belongs
    // to a resident; the collector named before is let go in both cases.
    let now = clock::now();
    let mut neighbour = None;
    if let Some(u) = found {
        let verified = household_member::Entity::find()
            .filter(household_member::Column::UserId.eq(u.id))
            .filter(household_member::Column::CommunityId.eq(scope.id()))
            .all(&state.db)
            .await?
            .iter()
            .any(|m| m.is_active(now));
        if verified {
            neighbour = Some(u.id);
        }
    }
    let txn = begin_write(&state.db).await?;
    service::delegate(&txn, &state, &o, neighbour).await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A code the caller holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupCode {
    pub order_id: OrderId,
    pub pickup_point_id: PickupPointId,
    /// The 8 digits to show at the point.
    pub code: String,
    /// A code for collecting on a neighbour's behalf (代取).
    pub delegated: bool,
    pub issued_at: DateTime<Utc>,
}

/// The caller's live pickup codes: their own orders' and those they collect
/// for neighbours.
#[utoipa::path(get, path = "/api/v1/me/pickup-codes", tag = "pickup",
    responses((status = 200, body = [PickupCode])))]
pub async fn my_codes(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<PickupCode>>> {
    let codes = service::codes_held(&state.db, &state, caller.user.id, None).await?;
    Ok(web::Json(
        codes
            .into_iter()
            .map(|(c, code)| PickupCode {
                order_id: c.order_id,
                pickup_point_id: c.pickup_point_id,
                code,
                delegated: c.delegated,
                issued_at: c.created_at,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// The 8 digits the resident shows.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupVerification {
    pub order: Order,
    /// Collected by a neighbour on the resident's behalf.
    pub delegated: bool,
    pub verified_by: UserId,
    pub verified_at: DateTime<Utc>,
}

/// Verify a pickup code at this point (核销): the order is collected. A code
/// works once.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/verifications", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)), request_body = CodeEntry,
    responses((status = 200, body = PickupVerification), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn verify(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, PickupPointId)>,
    body: Json<CodeEntry>,
) -> ApiResult<web::Json<PickupVerification>> {
    let point = point_here(&state, &scope, path.1).await?;
    let (o, code) = service::verify(&state, point.id, &body.0.code, caller.user.id).await?;
    Ok(web::Json(PickupVerification {
        order: one_order(&state.db, o).await?,
        delegated: code.delegated,
        verified_by: caller.user.id,
        verified_at: code.used_at.unwrap_or_else(clock::now),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Uncollected {
    pub order: Order,
    /// Waiting since.
    pub ready_since: Option<DateTime<Utc>>,
    pub last_reminded_at: Option<DateTime<Utc>>,
}

/// Orders waiting at this point, longest first.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/uncollected", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path), PageQuery),
    responses((status = 200, body = Page<Uncollected>)))]
pub async fn uncollected(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, PickupPointId)>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Uncollected>>> {
    let point = point_here(&state, &scope, path.1).await?;
    let select = order::Entity::find()
        .filter(order::Column::CommunityId.eq(scope.id()))
        .filter(order::Column::PickupPointId.eq(point.id))
        .filter(order::Column::Status.eq(OrderStatus::ReadyForPickup));
    let page = query
        .parse()?
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    let meta: Vec<_> = page
        .items
        .iter()
        .map(|o| (o.fulfilled_at, o.pickup_reminded_at))
        .collect();
    let orders = with_lines(&state.db, page.items).await?;
    Ok(web::Json(Page {
        items: orders
            .into_iter()
            .zip(meta)
            .map(|(order, (ready_since, last_reminded_at))| Uncollected {
                order,
                ready_since,
                last_reminded_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

// ---------------------------------------------------------------- message board

#[derive(Debug, Serialize, ToSchema)]
pub struct Note {
    pub id: PickupNoteId,
    pub author_id: UserId,
    /// The author's name, masked (`王**`).
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The point's message board (留言板), removed notes left out.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path), PageQuery),
    responses((status = 200, body = Page<Note>)))]
pub async fn list_notes(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, PickupPointId)>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Note>>> {
    let point = point_here(&state, &scope, path.1).await?;
    let select = pickup_note::Entity::find()
        .filter(pickup_note::Column::PickupPointId.eq(point.id))
        .filter(pickup_note::Column::RemovedAt.is_null());
    let page = query
        .parse()?
        .fetch(
            select,
            pickup_note::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    let names: std::collections::HashMap<UserId, String> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|n| n.author_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    Ok(web::Json(page.map(|n| Note {
        id: n.id,
        author_id: n.author_id,
        author: crate::pii::masked_name(names.get(&n.author_id).map_or("", String::as_str)),
        body: n.body,
        created_at: n.created_at,
    })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// At most 200 characters.
    pub body: String,
}

/// Leave a short note on the point's board.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)), request_body = NewNote,
    responses((status = 201, body = Note), (status = 422, body = ErrorBody)))]
pub async fn post_note(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, PickupPointId)>,
    body: Json<NewNote>,
) -> ApiResult<HttpResponse> {
    let point = point_here(&state, &scope, path.1).await?;
    let text = crate::kernel::text::required("body", &body.0.body, 200)?;
    let now = clock::now();
    let id = PickupNoteId::new();
    pickup_note::Entity::insert(pickup_note::ActiveModel {
        id: Set(id),
        pickup_point_id: Set(point.id),
        author_id: Set(caller.user.id),
        body: Set(text.clone()),
        created_at: Set(now),
        removed_at: Set(None),
        removed_by: Set(None),
    })
    .exec_without_returning(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(Note {
        id,
        author_id: caller.user.id,
        author: crate::pii::masked_name(&caller.user.display_name),
        body: text,
        created_at: now,
    }))
}

/// Take a note off the board (kept for the record).
#[utoipa::path(delete, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/notes/{note_id}", tag = "pickup",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path), ("note_id" = PickupNoteId, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_note(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, PickupPointId, PickupNoteId)>,
) -> ApiResult<HttpResponse> {
    let point = point_here(&state, &scope, path.1).await?;
    let removed = pickup_note::Entity::update_many()
        .set(pickup_note::ActiveModel {
            removed_at: Set(Some(clock::now())),
            removed_by: Set(Some(caller.user.id)),
            ..Default::default()
        })
        .filter(pickup_note::Column::Id.eq(path.2))
        .filter(pickup_note::Column::PickupPointId.eq(point.id))
        .filter(pickup_note::Column::RemovedAt.is_null())
        .exec(&state.db)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{ANY_STAFF, MANAGER, PICKUP_STAFF, RESIDENTS_ONLY};
    vec![
        // Pickup: slots, codes, collectors, the board
        route::<__path_generate_slots, _, _>(Staff(MANAGER), generate_slots),
        route::<__path_list_slots, _, _>(Residents(ANY_STAFF), list_slots),
        route::<__path_book_slot, _, _>(Residents(RESIDENTS_ONLY), book_slot),
        route::<__path_name_collector, _, _>(Residents(RESIDENTS_ONLY), name_collector),
        route::<__path_my_codes, _, _>(SignedIn, my_codes),
        route::<__path_verify, _, _>(Staff(PICKUP_STAFF), verify),
        route::<__path_uncollected, _, _>(Staff(PICKUP_STAFF), uncollected),
        route::<__path_list_notes, _, _>(Residents(ANY_STAFF), list_notes),
        route::<__path_post_note, _, _>(Residents(ANY_STAFF), post_note),
        route::<__path_remove_note, _, _>(Staff(PICKUP_STAFF), remove_note),
    ]
}
