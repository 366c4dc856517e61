//! The community and staff endpoints: each checks its request, calls one
//! service function and shapes the answer.

use actix_web::{HttpResponse, web};
use entity::{CommunityId, StaffRoleId};

use super::service;
use super::views::{Community, CommunityChanges, NewCommunity, NewStaff, StaffAssignment};
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

/// Add a community the operator manages.
#[utoipa::path(
    post,
    path = "/api/v1/communities",
    tag = "communities",
    request_body = NewCommunity,
    responses(
        (status = 201, description = "Created", body = Community),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    body: Json<NewCommunity>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let created = service::create(&state.db, fields).await?;
    Ok(HttpResponse::Created().json(Community::from(created)))
}

/// Communities I can see: all of them for operator admins, otherwise those
/// where I hold a staff role.
#[utoipa::path(
    get,
    path = "/api/v1/communities",
    tag = "communities",
    params(PageQuery),
    responses((status = 200, description = "One page", body = Page<Community>))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Community>>> {
    let page = query.parse()?;
    let found = service::visible(&state.db, caller.user.id, caller.is_operator_admin, page).await?;
    Ok(web::Json(found.map(Community::from)))
}

/// One community.
#[utoipa::path(
    get,
    path = "/api/v1/communities/{community_id}",
    tag = "communities",
    params(("community_id" = CommunityId, Path)),
    responses(
        (status = 200, description = "The community", body = Community),
        (status = 404, description = "No such community, or not yours", body = ErrorBody),
    )
)]
pub async fn get(scope: CommunityScope) -> ApiResult<web::Json<Community>> {
    Ok(web::Json(scope.community.into()))
}

/// Change a community's name, address or time zone.
#[utoipa::path(
    patch,
    path = "/api/v1/communities/{community_id}",
    tag = "communities",
    params(("community_id" = CommunityId, Path)),
    request_body = CommunityChanges,
    responses(
        (status = 200, description = "Updated", body = Community),
        (status = 409, description = "Name taken", body = ErrorBody),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    scope: CommunityScope,
    body: Json<CommunityChanges>,
) -> ApiResult<web::Json<Community>> {
    let changes = body.into_inner().parse()?;
    let id = scope.id();
    let updated = service::update(&state.db, scope.community, changes).await?;
    state.communities.invalidate(id);
    Ok(web::Json(updated.into()))
}

/// The community's staff and their roles.
#[utoipa::path(
    get,
    path = "/api/v1/communities/{community_id}/staff",
    tag = "staff",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, description = "One page", body = Page<StaffAssignment>))
)]
pub async fn list_staff(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<StaffAssignment>>> {
    let page = service::staff(&state.db, scope.id(), query.parse()?).await?;
    Ok(web::Json(page.map(StaffAssignment::from)))
}

/// Grant a staff role, creating the person's account if the phone number is new.
#[utoipa::path(
    post,
    path = "/api/v1/communities/{community_id}/staff",
    tag = "staff",
    params(("community_id" = CommunityId, Path)),
    request_body = NewStaff,
    responses(
        (status = 201, description = "Granted", body = StaffAssignment),
        (status = 409, description = "Role already held", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn add_staff(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    body: Json<NewStaff>,
) -> ApiResult<HttpResponse> {
    let grant = body.into_inner().parse()?;
    let (assignment, holder) =
        service::add_staff(&state.db, &state.pii, scope.id(), grant, caller.user.id).await?;
    state.principals.invalidate(holder.id);
    Ok(HttpResponse::Created().json(StaffAssignment::from((assignment, holder))))
}

/// Withdraw a staff role. Managers cannot withdraw their own manager role
/// (ask an operator admin), so a community is never left without one by
/// accident.
#[utoipa::path(
    delete,
    path = "/api/v1/communities/{community_id}/staff/{assignment_id}",
    tag = "staff",
    params(("community_id" = CommunityId, Path), ("assignment_id" = StaffRoleId, Path)),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 404, description = "No such assignment here", body = ErrorBody),
        (status = 409, description = "Own manager role", body = ErrorBody),
    )
)]
pub async fn remove_staff(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, StaffRoleId)>,
) -> ApiResult<HttpResponse> {
    let (_, assignment_id) = path.into_inner();
    let withdrawn = service::remove_staff(
        &state.db,
        scope.id(),
        assignment_id,
        caller.user.id,
        caller.is_operator_admin,
    )
    .await?;
    state.principals.invalidate(withdrawn.user_id);
    Ok(HttpResponse::NoContent().finish())
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{ANY_STAFF, MANAGER};
    vec![
        // Communities and their staff
        route::<__path_create, _, _>(OperatorAdmin, create),
        route::<__path_list, _, _>(SignedIn, list),
        route::<__path_get, _, _>(Staff(ANY_STAFF), get),
        route::<__path_update, _, _>(Staff(MANAGER), update),
        route::<__path_list_staff, _, _>(Staff(MANAGER), list_staff),
        route::<__path_add_staff, _, _>(Staff(MANAGER), add_staff),
        route::<__path_remove_staff, _, _>(Staff(MANAGER), remove_staff),
    ]
}
