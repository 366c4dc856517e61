use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{CommunityId, StaffRole, UserId, user};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password::{self, Password};
use crate::auth::{Caller, service as auth_service};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::Json;
use crate::state::AppState;

/// The signed-in user, as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: UserId,
    pub display_name: String,
    /// Masked: `138****1234`.
    pub phone: Option<String>,
    pub is_operator_admin: bool,
    pub staff_roles: Vec<MyStaffRole>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStaffRole {
    pub community_id: CommunityId,
    pub community_name: String,
    pub role: StaffRole,
}

/// Who am I?
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, description = "No valid token", body = ErrorBody),
    )
)]
pub async fn get_me(caller: Caller) -> web::Json<Me> {
    let user = &caller.user;
    web::Json(Me {
        id: user.id,
        display_name: user.display_name.clone(),
        phone: user.phone_masked.clone(),
        is_operator_admin: caller.is_operator_admin,
        staff_roles: caller
            .staff_roles
            .iter()
            .map(|r| MyStaffRole {
                community_id: r.community_id,
                community_name: r.community_name.clone(),
                role: r.role,
            })
            .collect(),
        created_at: user.created_at,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 8 to 128 characters.
    pub new_password: String,
}

/// Change my password. Every refresh token of mine is revoked, so other
/// devices must sign in again.
#[utoipa::path(
    put,
    path = "/api/v1/me/password",
    tag = "me",
    request_body = ChangePassword,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "Wrong current password", body = ErrorBody),
        (status = 409, description = "`conflict`: this account signs in through WeChat and has no password", body = ErrorBody),
        (status = 422, description = "New password too short or too long", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<ChangePassword>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let new = Password::parse("new_password", body.new_password)?;
    // Throttled like sign-in: a stolen access token must not become an
    // unlimited oracle for the current password.
    let auth = &state.settings.auth;
    let key = format!("password-change:{}", caller.user.id);
    let window = std::time::Duration::from_secs(auth.login_window_secs);
    if let Some(retry) =
        crate::rate_limit::hit(&state.db, &key, auth.login_attempts_per_window, window).await?
    {
        return Err(ApiError::rate_limited(retry));
    }
    // The stored hash as it is now, not as the principal cache remembers it.
    let current = user::Entity::find_by_id(caller.user.id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Some(stored) = current.password_hash.clone() else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "this account signs in through WeChat and has no password",
        ));
    };
    if !password::verify(body.current_password, Some(stored)).await? {
        return Err(password::wrong_credentials());
    }
    let hash = password::hash(new).await?;
    let txn = crate::kernel::db::begin_write(&state.db).await?;
    let user_id = caller.user.id;
    let mut model: user::ActiveModel = current.into_active_model();
    model.password_hash = Set(Some(hash));
    model.updated_at = Set(clock::now());
    model.update(&txn).await?;
    auth_service::revoke_all_for_user(&txn, user_id).await?;
    txn.commit().await?;
    state.principals.invalidate(user_id);
    crate::rate_limit::clear(&state.db, &key).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    vec![
        // The signed-in user
        route::<__path_get_me, _, _>(SignedIn, get_me),
        route::<__path_change_password, _, _>(SignedIn, change_password),
    ]
}
