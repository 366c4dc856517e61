use actix_web::{HttpRequest, HttpResponse, web};
use entity::{
    CommunityId, HouseholdId, MemberRole, StaffRole, StaffRoleId, TokenFamilyId, VerifiedVia,
    community, household, operator_admin, staff_role,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde::Deserialize;
use utoipa::ToSchema;

use super::service::{self, TokenPair};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, client_ip};
use crate::kernel::{clock, db, text};
use crate::pii::PhoneNumber;
use crate::state::AppState;
use crate::user;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Mainland mobile number, e.g. `13812341234`.
    pub phone: String,
    pub password: String,
}

/// Staff sign-in with phone number and password.
///
/// Failed attempts are throttled per phone number and per client address
/// (`429 rate_limited` with `Retry-After`).
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 401, description = "`invalid_credentials`: wrong phone number or password", body = ErrorBody),
        (status = 403, description = "`account_disabled`: this account is disabled", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed attempts", body = ErrorBody),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let body = body.into_inner();
    // A malformed number cannot belong to anyone: same answer as a wrong one.
    let phone =
        PhoneNumber::parse(&body.phone).map_err(|_| super::password::wrong_credentials())?;
    let ip = client_ip(&req, state.settings.server.trust_forwarded_for);
    let pair = service::login(&state, &phone, body.password, &ip).await?;
    Ok(web::Json(pair))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchange a refresh token for a new token pair. Each refresh token works
/// once; presenting a used one revokes every token of that sign-in.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenPair),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_expired`, `refresh_token_reused`: invalid, expired or reused refresh token", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account was disabled; its tokens are revoked", body = ErrorBody),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    Ok(web::Json(
        service::refresh(&state, &body.0.refresh_token).await?,
    ))
}

/// Sign out: revokes the refresh token and every token rotated from the same
/// sign-in. Idempotent.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out"))
)]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    service::logout(&state, &body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLoginRequest {
    /// Signs in as the user with this phone number, creating them if needed.
    /// Without it, a new user is created on every call.
    pub phone: Option<String>,
    /// Name for a new user (default `开发者`).
    pub display_name: Option<String>,
    /// Make the user an operator admin.
    #[serde(default)]
    pub operator_admin: bool,
    /// Grant these staff roles.
    #[serde(default)]
    pub staff_roles: Vec<DevRoleGrant>,
    /// Make the user a verified member of these households.
    #[serde(default)]
    pub households: Vec<DevMembership>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevMembership {
    pub household_id: HouseholdId,
    pub role: MemberRole,
    /// For tenants.
    pub tenant_until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevRoleGrant {
    pub community_id: CommunityId,
    pub role: StaffRole,
}

/// Development only: sign in as anyone, with any roles, to explore the API.
///
/// Exists only when `auth.dev_login` is on (development and test); production
/// refuses to start with it on.
#[utoipa::path(
    post,
    path = "/api/v1/dev/login",
    tag = "development",
    request_body = DevLoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenPair),
        (status = 422, description = "Bad phone number or unknown community", body = ErrorBody),
    )
)]
pub async fn dev_login(
    state: web::Data<AppState>,
    body: Json<DevLoginRequest>,
) -> ApiResult<web::Json<TokenPair>> {
    let body = body.into_inner();
    let phone = body
        .phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()
        .map_err(|e| ApiError::invalid_field("phone", e))?;
    let name = text::required(
        "display_name",
        body.display_name.as_deref().unwrap_or("开发者"),
        64,
    )?;
    let txn = db::begin_write(&state.db).await?;
    let existing = match &phone {
        Some(p) => user::service::find_by_phone(&txn, &state.pii, p).await?,
        None => None,
    };
    let user = match existing {
        Some(u) => u,
        None => user::service::create(&txn, &state.pii, name, phone.as_ref(), None).await?,
    };
    let now = clock::now();
    if body.operator_admin
        && operator_admin::Entity::find_by_id(user.id)
            .one(&txn)
            .await?
            .is_none()
    {
        operator_admin::ActiveModel {
            user_id: Set(user.id),
            granted_by: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    for (i, grant) in body.staff_roles.iter().enumerate() {
        if community::Entity::find_by_id(grant.community_id)
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid_field(
                &format!("staff_roles[{i}].community_id"),
                "no such community",
            ));
        }
        let held = staff_role::Entity::find()
            .filter(staff_role::Column::CommunityId.eq(grant.community_id))
            .filter(staff_role::Column::UserId.eq(user.id))
            .filter(staff_role::Column::Role.eq(grant.role))
            .count(&txn)
            .await?;
        if held == 0 {
            staff_role::ActiveModel {
                id: Set(StaffRoleId::new()),
                community_id: Set(grant.community_id),
                user_id: Set(user.id),
                role: Set(grant.role),
                granted_by: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    for (i, grant) in body.households.iter().enumerate() {
        let Some(h) = household::Entity::find_by_id(grant.household_id)
            .one(&txn)
            .await?
        else {
            return Err(ApiError::invalid_field(
                &format!("households[{i}].household_id"),
                "no such household",
            ));
        };
        let member = crate::resident::service::add_member(
            &txn,
            crate::resident::service::NewMembership {
                community: h.community_id,
                household: h.id,
                user: user.id,
                role: grant.role,
                tenant_until: grant.tenant_until,
                via: VerifiedVia::Staff,
                verified_by: None,
            },
        )
        .await;
        match member {
            Ok(_) => {}
            Err(e) if e.code == crate::kernel::error::ErrorCode::AlreadyMember => {}
            Err(e) => return Err(e),
        }
    }
    let pair = service::issue_pair(&txn, &state, user.id, TokenFamilyId::new()).await?;
    txn.commit().await?;
    state.principals.invalidate(user.id);
    Ok(web::Json(pair))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table(settings: &crate::config::Settings) -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    let mut routes = vec![
        // Authentication
        route::<__path_login, _, _>(Public, login),
        route::<__path_refresh, _, _>(Public, refresh),
        route::<__path_logout, _, _>(Public, logout),
    ];
    if settings.auth.dev_login {
        routes.push(route::<__path_dev_login, _, _>(Public, dev_login));
    }
    routes
}
