//! The `/api/v1/auth/*` and `/api/v1/dev/login` handlers.

use actix_web::{HttpRequest, HttpResponse, web};

use super::service;
use super::views::{DevLoginRequest, LoginRequest, RefreshRequest, TokenPair};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, client_ip};
use crate::pii::PhoneNumber;
use crate::state::AppState;

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
    let pair = service::login(
        &state.db,
        &state.settings.auth,
        &state.tokens,
        &state.pii,
        &phone,
        body.password,
        &ip,
    )
    .await?;
    Ok(web::Json(pair))
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
        service::refresh(&state.db, &state.tokens, &body.0.refresh_token).await?,
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
    service::logout(&state.db, &body.0.refresh_token).await?;
    Ok(HttpResponse::NoContent().finish())
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
    let login = body.into_inner().parse()?;
    let pair =
        crate::flows::dev_login::sign_in(&state.db, &state.tokens, &state.pii, login).await?;
    state.principals.invalidate(pair.user_id);
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
