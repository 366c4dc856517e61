use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{CommunityId, StaffRole, StaffRoleId, UserId, community, staff_role, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{self, CommunityFields};
use crate::auth::password::{self, Password};
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{db, text};
use crate::pii::PhoneNumber;
use crate::state::AppState;
use crate::user as users;

/// A community (小区) as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub address: String,
    /// IANA time zone, e.g. `Asia/Shanghai`: local times (pickup slots,
    /// settlement cut-offs) are computed in it.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<community::Model> for Community {
    fn from(m: community::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            address: m.address,
            timezone: m.timezone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommunity {
    pub name: String,
    pub address: String,
    /// Default `Asia/Shanghai`.
    pub timezone: Option<String>,
}

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
    let body = body.into_inner();
    let fields = CommunityFields {
        name: service::parse_name(&body.name)?,
        address: service::parse_address(&body.address)?,
        timezone: service::parse_timezone(body.timezone.as_deref().unwrap_or("Asia/Shanghai"))?,
    };
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
    let mut select = community::Entity::find();
    if !caller.is_operator_admin {
        let mine: Vec<CommunityId> = staff_role::Entity::find()
            .select_only()
            .column(staff_role::Column::CommunityId)
            .filter(staff_role::Column::UserId.eq(caller.user.id))
            .distinct()
            .into_tuple()
            .all(&state.db)
            .await?;
        select = select.filter(community::Column::Id.is_in(mine));
    }
    let found = page
        .fetch(select, community::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityChanges {
    pub name: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
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
    let body = body.into_inner();
    let name = body.name.as_deref().map(service::parse_name).transpose()?;
    let address = body
        .address
        .as_deref()
        .map(service::parse_address)
        .transpose()?;
    let timezone = body
        .timezone
        .as_deref()
        .map(service::parse_timezone)
        .transpose()?;
    let id = scope.id();
    let updated = service::update(&state.db, scope.community, name, address, timezone).await?;
    state.communities.invalidate(id);
    Ok(web::Json(updated.into()))
}

/// One staff role held by one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffAssignment {
    pub id: StaffRoleId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked: `138****1234`.
    pub phone: Option<String>,
    pub role: StaffRole,
    pub granted_at: DateTime<Utc>,
}

impl From<(staff_role::Model, user::Model)> for StaffAssignment {
    fn from((a, u): (staff_role::Model, user::Model)) -> Self {
        Self {
            id: a.id,
            user_id: u.id,
            display_name: u.display_name,
            phone: u.phone_masked,
            role: a.role,
            granted_at: a.created_at,
        }
    }
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
    let select = staff_role::Entity::find().filter(staff_role::Column::CommunityId.eq(scope.id()));
    let page = query
        .parse()?
        .fetch(
            select,
            staff_role::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    let holders: std::collections::HashMap<UserId, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|a| a.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let items = page
        .items
        .into_iter()
        .filter_map(|a| {
            let holder = holders.get(&a.user_id)?.clone();
            Some(StaffAssignment::from((a, holder)))
        })
        .collect();
    Ok(web::Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// The person's mainland mobile number: finds them, or creates them.
    pub phone: String,
    /// Name for a new user (ignored for an existing one).
    pub display_name: String,
    pub role: StaffRole,
    /// Password for a new user's back-office sign-in (8 to 128 characters);
    /// required when the phone number is new, ignored otherwise.
    pub initial_password: Option<String>,
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
    let body = body.into_inner();
    let phone = PhoneNumber::parse(&body.phone).map_err(|e| ApiError::invalid_field("phone", e))?;
    let name = text::required("display_name", &body.display_name, 64)?;
    let password = body
        .initial_password
        .map(|p| Password::parse("initial_password", p))
        .transpose()?;
    let existing = users::service::find_by_phone(&state.db, &state.pii, &phone).await?;
    // Hash before the transaction: argon2 takes a while, and a write
    // transaction should not wait on it.
    let new_hash = match (&existing, password) {
        (Some(_), _) => None,
        (None, Some(p)) => Some(password::hash(p).await?),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "initial_password",
                "required for a new staff member",
            ));
        }
    };
    let txn = db::begin_write(&state.db).await?;
    let holder = match existing {
        Some(u) => u,
        None => users::service::create(&txn, &state.pii, name, Some(&phone), new_hash).await?,
    };
    let assignment =
        service::grant_role(&txn, scope.id(), holder.id, body.role, Some(caller.user.id)).await?;
    txn.commit().await?;
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
    let assignment = service::find_assignment(&state.db, scope.id(), assignment_id).await?;
    if assignment.user_id == caller.user.id
        && assignment.role == StaffRole::Manager
        && !caller.is_operator_admin
    {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you cannot withdraw your own manager role",
        ));
    }
    staff_role::Entity::delete_by_id(assignment.id)
        .exec(&state.db)
        .await?;
    state.principals.invalidate(assignment.user_id);
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
