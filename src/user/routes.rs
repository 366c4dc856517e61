//! The signed-in user's endpoints: who am I, and changing my password.

use actix_web::{HttpResponse, web};

use super::service;
use super::views::{ChangePassword, Me};
use crate::auth::Caller;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::Json;
use crate::state::AppState;

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
    web::Json(Me::from(&*caller))
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
    let change = body.into_inner().parse()?;
    let user = caller.user.id;
    service::change_password(&state.db, &state.settings.auth, user, change).await?;
    state.principals.invalidate(user);
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
