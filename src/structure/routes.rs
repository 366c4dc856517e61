//! The structure endpoints: buildings, units, households, gates, pickup
//! points and the owner register. Each checks its request, calls one
//! service function and shapes the answer.

use actix_web::{HttpRequest, HttpResponse, web};
use entity::{BuildingId, CommunityId, HouseholdId, PickupPointId};

use super::service::{self, import::ImportReport};
use super::views::{
    Building, Gate, Household, HouseholdFilter, ImportOptions, NewHousehold, NewName,
    NewPickupPoint, OwnerFilter, OwnerRecord, PickupPoint, PickupPointChanges, Unit,
};
use crate::auth::CommunityScope;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

// ---------------------------------------------------------------- buildings

/// Add a building (楼栋).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/buildings", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewName,
    responses((status = 201, body = Building), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create_building(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewName>,
) -> ApiResult<HttpResponse> {
    let name = body.into_inner().parse()?;
    let created = service::create_building(&state.db, scope.id(), name).await?;
    Ok(HttpResponse::Created().json(Building::from(created)))
}

/// The community's buildings.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/buildings", tag = "structure",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<Building>)))]
pub async fn list_buildings(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Building>>> {
    let page = service::buildings(&state.db, scope.id(), query.parse()?).await?;
    Ok(web::Json(page.map(Building::from)))
}

/// Add a unit (单元) to a building.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/buildings/{building_id}/units", tag = "structure",
    params(("community_id" = CommunityId, Path), ("building_id" = BuildingId, Path)), request_body = NewName,
    responses((status = 201, body = Unit), (status = 404, body = ErrorBody), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create_unit(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, BuildingId)>,
    body: Json<NewName>,
) -> ApiResult<HttpResponse> {
    let name = body.into_inner().parse()?;
    let created = service::create_unit(&state.db, scope.id(), path.1, name).await?;
    Ok(HttpResponse::Created().json(Unit::from(created)))
}

/// A building's units.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/buildings/{building_id}/units", tag = "structure",
    params(("community_id" = CommunityId, Path), ("building_id" = BuildingId, Path), PageQuery),
    responses((status = 200, body = Page<Unit>), (status = 404, body = ErrorBody)))]
pub async fn list_units(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, BuildingId)>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Unit>>> {
    let page = query.parse()?;
    let page = service::units(&state.db, scope.id(), path.1, page).await?;
    Ok(web::Json(page.map(Unit::from)))
}

// ---------------------------------------------------------------- households

/// Add a household (户).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/households", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewHousehold,
    responses((status = 201, body = Household), (status = 409, description = "Address taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_household(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewHousehold>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let created = service::create_household(&state.db, scope.id(), fields).await?;
    Ok(HttpResponse::Created().json(Household::from(created)))
}

/// The community's households, optionally by building, unit or room.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households", tag = "structure",
    params(("community_id" = CommunityId, Path), HouseholdFilter, PageQuery),
    responses((status = 200, body = Page<Household>)))]
pub async fn list_households(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<HouseholdFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Household>>> {
    let page = query.parse()?;
    let page = service::households(&state.db, scope.id(), filter.search(), page).await?;
    Ok(web::Json(page.map(Household::from)))
}

/// One household.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households/{household_id}", tag = "structure",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 200, body = Household), (status = 404, body = ErrorBody)))]
pub async fn get_household(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<web::Json<Household>> {
    let found = service::find_household(&state.db, scope.id(), path.1).await?;
    Ok(web::Json(found.into()))
}

// ---------------------------------------------------------------- gates

/// Add a gate (门岗).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/gates", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewName,
    responses((status = 201, body = Gate), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create_gate(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewName>,
) -> ApiResult<HttpResponse> {
    let name = body.into_inner().parse()?;
    let created = service::create_gate(&state.db, scope.id(), name).await?;
    Ok(HttpResponse::Created().json(Gate::from(created)))
}

/// The community's gates.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/gates", tag = "structure",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<Gate>)))]
pub async fn list_gates(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Gate>>> {
    let page = service::gates(&state.db, scope.id(), query.parse()?).await?;
    Ok(web::Json(page.map(Gate::from)))
}

// ---------------------------------------------------------------- pickup points

/// Add a pickup point (自提点).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewPickupPoint,
    responses((status = 201, body = PickupPoint), (status = 409, description = "Name taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_pickup_point(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewPickupPoint>,
) -> ApiResult<HttpResponse> {
    let f = body.into_inner().parse()?;
    let created =
        service::create_pickup_point(&state.db, scope.id(), f.name, f.location, f.hours).await?;
    Ok(HttpResponse::Created().json(PickupPoint::from(created)))
}

/// The community's pickup points.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pickup-points", tag = "structure",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<PickupPoint>)))]
pub async fn list_pickup_points(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<PickupPoint>>> {
    let page = service::pickup_points(&state.db, scope.id(), query.parse()?).await?;
    Ok(web::Json(page.map(PickupPoint::from)))
}

/// Change a pickup point.
#[utoipa::path(patch, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}", tag = "structure",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)), request_body = PickupPointChanges,
    responses((status = 200, body = PickupPoint), (status = 404, body = ErrorBody), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn update_pickup_point(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, PickupPointId)>,
    body: Json<PickupPointChanges>,
) -> ApiResult<web::Json<PickupPoint>> {
    let changes = body.into_inner().parse()?;
    let updated = service::update_pickup_point(&state.db, scope.id(), path.1, changes).await?;
    Ok(web::Json(updated.into()))
}

// ---------------------------------------------------------------- owner records

/// The property's register of owners (业主登记), masked.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/owner-records", tag = "structure",
    params(("community_id" = CommunityId, Path), OwnerFilter, PageQuery),
    responses((status = 200, body = Page<OwnerRecord>)))]
pub async fn list_owner_records(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<OwnerFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<OwnerRecord>>> {
    let page = query.parse()?;
    let page = service::owner_records(&state.db, scope.id(), filter.household_id, page).await?;
    Ok(web::Json(page.map(OwnerRecord::from)))
}

/// Import households and owner records from CSV (`text/csv`, UTF-8, header
/// row). Columns: `building`, `unit`, `room`, `area_m2`, `owner_name`,
/// `owner_phone`, `owner_id_number` (or 楼栋, 单元, 房号, 面积, 业主姓名,
/// 业主电话, 身份证号). A dry run reports every bad row; a real run writes
/// every row, or none if any row is bad (`422 import_rejected`).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/owner-records/import", tag = "structure",
    params(("community_id" = CommunityId, Path), ImportOptions),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "Imported, or the dry run's report", body = ImportReport),
        (status = 409, description = "`building_name_taken`, `unit_name_taken`, `household_exists`: another import or edit wrote the same building, unit or household meanwhile; try again", body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Bad rows; nothing written", body = ErrorBody),
    ))]
pub async fn import_owner_records(
    state: web::Data<AppState>,
    scope: CommunityScope,
    req: HttpRequest,
    options: web::Query<ImportOptions>,
    payload: web::Payload,
) -> ApiResult<web::Json<ImportReport>> {
    let body = crate::kernel::http::read_csv(&req, payload).await?;
    let report =
        service::import_register(&state.db, &state.pii, scope.id(), &body, options.dry_run).await?;
    Ok(web::Json(report))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{ANY_STAFF, BUILDING_STAFF, MANAGER};
    vec![
        // Community structure and the owner register
        route::<__path_create_building, _, _>(Staff(MANAGER), create_building),
        route::<__path_list_buildings, _, _>(Staff(ANY_STAFF), list_buildings),
        route::<__path_create_unit, _, _>(Staff(MANAGER), create_unit),
        route::<__path_list_units, _, _>(Staff(ANY_STAFF), list_units),
        route::<__path_create_household, _, _>(Staff(MANAGER), create_household),
        route::<__path_list_households, _, _>(Staff(ANY_STAFF), list_households),
        route::<__path_get_household, _, _>(Staff(ANY_STAFF), get_household),
        route::<__path_create_gate, _, _>(Staff(MANAGER), create_gate),
        route::<__path_list_gates, _, _>(Staff(ANY_STAFF), list_gates),
        route::<__path_create_pickup_point, _, _>(Staff(MANAGER), create_pickup_point),
        route::<__path_list_pickup_points, _, _>(Staff(ANY_STAFF), list_pickup_points),
        route::<__path_update_pickup_point, _, _>(Staff(MANAGER), update_pickup_point),
        route::<__path_list_owner_records, _, _>(Staff(BUILDING_STAFF), list_owner_records),
        route::<__path_import_owner_records, _, _>(Staff(MANAGER), import_owner_records),
    ]
}
