use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::pickup_point::{OpeningHours, OpeningPeriod};
use entity::{
    BuildingId, CommunityId, GateId, HouseholdId, OwnerRecordId, PickupPointId, UnitId, building,
    gate, household, owner_record, pickup_point, unit,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::import::{self, ImportReport};
use super::service::{self, Area};
use crate::auth::CommunityScope;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{clock, db, text};
use crate::state::AppState;

// ---------------------------------------------------------------- buildings

#[derive(Debug, Serialize, ToSchema)]
pub struct Building {
    pub id: BuildingId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<building::Model> for Building {
    fn from(m: building::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewName {
    pub name: String,
}

/// Add a building (楼栋).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/buildings", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewName,
    responses((status = 201, body = Building), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create_building(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewName>,
) -> ApiResult<HttpResponse> {
    let name = text::required("name", &body.0.name, 50)?;
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
    let select = building::Entity::find().filter(building::Column::CommunityId.eq(scope.id()));
    let page = query
        .parse()?
        .fetch(select, building::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page.map(Building::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    pub id: UnitId,
    pub building_id: BuildingId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<unit::Model> for Unit {
    fn from(m: unit::Model) -> Self {
        Self {
            id: m.id,
            building_id: m.building_id,
            name: m.name,
            created_at: m.created_at,
        }
    }
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
    let building = service::find_building(&state.db, scope.id(), path.1).await?;
    let name = text::required("name", &body.0.name, 50)?;
    let created = service::create_unit(&state.db, &building, name).await?;
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
    let building = service::find_building(&state.db, scope.id(), path.1).await?;
    let select = unit::Entity::find().filter(unit::Column::BuildingId.eq(building.id));
    let page = query
        .parse()?
        .fetch(select, unit::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page.map(Unit::from)))
}

// ---------------------------------------------------------------- households

#[derive(Debug, Serialize, ToSchema)]
pub struct Household {
    pub id: HouseholdId,
    pub building_id: BuildingId,
    pub unit_id: Option<UnitId>,
    pub room: String,
    /// Square metres with two decimals, e.g. `"89.50"`.
    pub area_m2: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<household::Model> for Household {
    fn from(m: household::Model) -> Self {
        Self {
            id: m.id,
            building_id: m.building_id,
            unit_id: m.unit_id,
            room: m.room,
            area_m2: m.area_centi_m2.map(|a| Area::from_centi(a).display()),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHousehold {
    pub building_id: BuildingId,
    pub unit_id: Option<UnitId>,
    pub room: String,
    /// Square metres, at most two decimals, as a string: `"89.50"`.
    pub area_m2: Option<String>,
}

/// Add a household (户).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/households", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewHousehold,
    responses((status = 201, body = Household), (status = 409, description = "Address taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_household(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewHousehold>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let building = building::Entity::find_by_id(body.building_id)
        .filter(building::Column::CommunityId.eq(scope.id()))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field("building_id", "no such building in this community")
        })?;
    if let Some(unit_id) = body.unit_id {
        unit::Entity::find_by_id(unit_id)
            .filter(unit::Column::BuildingId.eq(building.id))
            .one(&state.db)
            .await?
            .ok_or_else(|| ApiError::invalid_field("unit_id", "no such unit in this building"))?;
    }
    let room = service::parse_room(&body.room)?;
    let area = body
        .area_m2
        .as_deref()
        .map(|a| Area::parse(a).map_err(|e| ApiError::invalid_field("area_m2", e)))
        .transpose()?;
    let created =
        service::create_household(&state.db, scope.id(), building.id, body.unit_id, room, area)
            .await?;
    Ok(HttpResponse::Created().json(Household::from(created)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HouseholdFilter {
    pub building_id: Option<BuildingId>,
    pub unit_id: Option<UnitId>,
    /// Exact room number.
    pub room: Option<String>,
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
    let mut select =
        household::Entity::find().filter(household::Column::CommunityId.eq(scope.id()));
    if let Some(b) = filter.building_id {
        select = select.filter(household::Column::BuildingId.eq(b));
    }
    if let Some(u) = filter.unit_id {
        select = select.filter(household::Column::UnitId.eq(u));
    }
    if let Some(r) = &filter.room {
        select = select.filter(household::Column::Room.eq(r.trim()));
    }
    let page = query
        .parse()?
        .fetch(select, household::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
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
    Ok(web::Json(
        service::find_household(&state.db, scope.id(), path.1)
            .await?
            .into(),
    ))
}

// ---------------------------------------------------------------- gates

#[derive(Debug, Serialize, ToSchema)]
pub struct Gate {
    pub id: GateId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<gate::Model> for Gate {
    fn from(m: gate::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

/// Add a gate (门岗).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/gates", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewName,
    responses((status = 201, body = Gate), (status = 409, description = "Name taken", body = ErrorBody)))]
pub async fn create_gate(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewName>,
) -> ApiResult<HttpResponse> {
    let name = text::required("name", &body.0.name, 50)?;
    Ok(HttpResponse::Created().json(Gate::from(
        service::create_gate(&state.db, scope.id(), name).await?,
    )))
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
    let select = gate::Entity::find().filter(gate::Column::CommunityId.eq(scope.id()));
    let page = query
        .parse()?
        .fetch(select, gate::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page.map(Gate::from)))
}

// ---------------------------------------------------------------- pickup points

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoint {
    pub id: PickupPointId,
    pub name: String,
    pub location: String,
    /// In the community's time zone.
    pub opening_hours: OpeningHours,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<pickup_point::Model> for PickupPoint {
    fn from(m: pickup_point::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            location: m.location,
            opening_hours: m.opening_hours,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPickupPoint {
    pub name: String,
    /// Where to find it, e.g. `3号楼大堂`.
    pub location: String,
    pub opening_hours: Vec<OpeningPeriod>,
}

/// Add a pickup point (自提点).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points", tag = "structure",
    params(("community_id" = CommunityId, Path)), request_body = NewPickupPoint,
    responses((status = 201, body = PickupPoint), (status = 409, description = "Name taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_pickup_point(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<NewPickupPoint>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let name = text::required("name", &body.name, 50)?;
    let location = text::required("location", &body.location, 200)?;
    let hours = service::parse_opening_hours(body.opening_hours)?;
    let created =
        service::create_pickup_point(&state.db, scope.id(), name, location, hours).await?;
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
    let select =
        pickup_point::Entity::find().filter(pickup_point::Column::CommunityId.eq(scope.id()));
    let page = query
        .parse()?
        .fetch(
            select,
            pickup_point::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(PickupPoint::from)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupPointChanges {
    pub name: Option<String>,
    pub location: Option<String>,
    pub opening_hours: Option<Vec<OpeningPeriod>>,
    /// A closed point takes no new orders or bookings.
    pub active: Option<bool>,
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
    let body = body.into_inner();
    let current = service::find_pickup_point(&state.db, scope.id(), path.1).await?;
    let mut model = current.into_active_model();
    if let Some(v) = body.name {
        model.name = Set(text::required("name", &v, 50)?);
    }
    if let Some(v) = body.location {
        model.location = Set(text::required("location", &v, 200)?);
    }
    if let Some(v) = body.opening_hours {
        model.opening_hours = Set(service::parse_opening_hours(v)?);
    }
    if let Some(v) = body.active {
        model.active = Set(v);
    }
    model.updated_at = Set(clock::now());
    Ok(web::Json(model.update(&state.db).await?.into()))
}

// ---------------------------------------------------------------- owner records

/// An owner in the property's register, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerRecord {
    pub id: OwnerRecordId,
    pub household_id: HouseholdId,
    pub owner_name: String,
    /// `138****1234`
    pub phone: String,
    /// `350***********123X`
    pub id_number: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<owner_record::Model> for OwnerRecord {
    fn from(m: owner_record::Model) -> Self {
        Self {
            id: m.id,
            household_id: m.household_id,
            owner_name: m.owner_name,
            phone: m.phone_masked,
            id_number: m.id_number_masked,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnerFilter {
    pub household_id: Option<HouseholdId>,
}

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
    let mut select =
        owner_record::Entity::find().filter(owner_record::Column::CommunityId.eq(scope.id()));
    if let Some(h) = filter.household_id {
        select = select.filter(owner_record::Column::HouseholdId.eq(h));
    }
    let page = query
        .parse()?
        .fetch(
            select,
            owner_record::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(OwnerRecord::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Check every row and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
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
    let txn = db::begin_write(&state.db).await?;
    let report = import::import_owners(
        &txn,
        &state.pii,
        scope.id(),
        &body,
        options.dry_run,
        &mut |_, _| {},
    )
    .await?;
    if !options.dry_run && !report.errors.is_empty() {
        return Err(import::rejected(report));
    }
    txn.commit().await?;
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
