//! Pickup over HTTP: slots, codes and verification (核销), collectors
//! (代取), the uncollected report and each point's message board.

use actix_web::{HttpResponse, web};
use entity::{CommunityId, OrderId, PickupNoteId, PickupPointId};

use super::service;
use super::views::{
    CodeEntry, Collector, NewNote, Note, PickupCode, PickupVerification, Slot, SlotChoice,
    SlotPlan, Uncollected,
};
use crate::auth::{Caller, CommunityScope};
use crate::kernel::clock;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::orders::service::one_order;
use crate::orders::views::Order;
use crate::state::AppState;

// ---------------------------------------------------------------- slots

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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    let plan = body.into_inner().parse()?;
    let made = service::slots::generate_slots(&state.db, &scope.community, &point, plan).await?;
    Ok(HttpResponse::Created().json(made))
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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    Ok(web::Json(
        service::slots::upcoming_slots(&state.db, &point).await?,
    ))
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
    let o = service::own_pickup_order(&state.db, &scope, path.1).await?;
    let o = service::slots::choose_slot(&state.db, &o, body.0.slot_id).await?;
    Ok(web::Json(one_order(&state.db, o).await?))
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
    let o = service::collectable_order(&state.db, &scope, path.1).await?;
    let phone = body.0.parse()?;
    service::name_collector(
        &state.db,
        &state.settings,
        &state.pii,
        caller.user.id,
        &o,
        &phone,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's live pickup codes: their own orders' and those they collect
/// for neighbours.
#[utoipa::path(get, path = "/api/v1/me/pickup-codes", tag = "pickup",
    responses((status = 200, body = [PickupCode])))]
pub async fn my_codes(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<PickupCode>>> {
    let codes = service::codes_held(&state.db, &state.pii, caller.user.id, None).await?;
    Ok(web::Json(codes.into_iter().map(PickupCode::from).collect()))
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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    let (o, code) = service::verify(
        &state.db,
        &state.settings,
        &state.pii,
        point.id,
        &body.0.code,
        caller.user.id,
    )
    .await?;
    Ok(web::Json(PickupVerification {
        order: one_order(&state.db, o).await?,
        delegated: code.delegated,
        verified_by: caller.user.id,
        verified_at: code.used_at.unwrap_or_else(clock::now),
    }))
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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    let page = query.parse()?;
    Ok(web::Json(
        service::uncollected(&state.db, scope.id(), point.id, page).await?,
    ))
}

// ---------------------------------------------------------------- message board

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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    let page = query.parse()?;
    Ok(web::Json(
        service::board::notes(&state.db, &point, page).await?,
    ))
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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    let text = body.0.parse()?;
    let note = service::board::post_note(&state.db, &point, &caller.user, text).await?;
    Ok(HttpResponse::Created().json(note))
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
    let point = crate::structure::service::pickup_point_in(&state.db, scope.id(), path.1).await?;
    service::board::remove_note(&state.db, &point, path.2, caller.user.id).await?;
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
