//! The WeChat endpoints: callbacks, web OAuth, mini-program sign-in, the
//! JS-SDK, the menu and parametric QR codes. Each handler reads the request
//! and shapes the answer; what happens in between is in the protocol and
//! rule modules beside this one.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::{CommunityId, PickupPointId, QrCodeId};

use super::callback::{self, Callbacks, MAX_CALLBACK_BYTES};
use super::views::{
    AuthorizeQuery, CallbackQuery, CodeBody, JssdkConfig, JssdkQuery, MenuSynced,
    OauthCallbackQuery, PhoneBound, QrCode,
};
use super::{menu, miniprogram, oauth, qr};
use crate::auth::views::TokenPair;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, client_ip, declared_length, read_limited};
use crate::state::AppState;

/// Binds the sign-in to the browser that started it (no login CSRF): the
/// state's nonce must come back in this cookie.
const NONCE_COOKIE: &str = "anjia_oauth_nonce";

/// URL verification: echoes `echostr` when the signature matches.
#[utoipa::path(get, path = "/wechat/callback", tag = "wechat",
    params(CallbackQuery),
    responses((status = 200, description = "`echostr`, as text", content_type = "text/plain"),
        (status = 403, description = "`wechat_signature_invalid`", body = ErrorBody)))]
pub async fn verify_url(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> ApiResult<HttpResponse> {
    let echostr = callback::verify_url(&state.settings.wechat, &query)?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::plaintext())
        .body(echostr))
}

/// Messages and events from WeChat. Answers a passive reply (XML, encrypted
/// in safe mode) or `success`.
#[utoipa::path(post, path = "/wechat/callback", tag = "wechat",
    params(CallbackQuery),
    request_body(content = String, content_type = "text/xml"),
    responses((status = 200, description = "A passive reply (XML) or `success`", content_type = "text/xml"),
        (status = 400, description = "`wechat_bad_message`: malformed XML, DOCTYPE or entities", body = ErrorBody),
        (status = 403, description = "`wechat_signature_invalid`: bad signature or stale timestamp", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody)))]
pub async fn receive(
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    // Before the body is read: a forged or replayed request costs nothing.
    callback::check_signature(&state.settings.wechat, &query)?;
    let body = read_limited(
        payload.into_inner(),
        declared_length(&req),
        MAX_CALLBACK_BYTES,
    )
    .await?;
    let callbacks = Callbacks {
        db: state.db.clone(),
        settings: state.settings.clone(),
        seen: state.callbacks_seen.clone(),
    };
    Ok(match callback::receive(&callbacks, &query, &body).await? {
        None => HttpResponse::Ok()
            .content_type(ContentType::plaintext())
            .body("success"),
        Some(body) => HttpResponse::Ok()
            .content_type(ContentType::xml())
            .body(body),
    })
}

/// Signs a mini-program user in with a `wx.login` code.
#[utoipa::path(post, path = "/api/v1/auth/miniprogram/login", tag = "auth",
    request_body = CodeBody,
    responses((status = 200, body = TokenPair),
        (status = 401, description = "`invalid_credentials`: the `wx.login` code is invalid or used; call `wx.login` again", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account is disabled", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`: use the development login", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ins from this address; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat refused the code", body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<CodeBody>,
) -> ApiResult<web::Json<TokenPair>> {
    let code = body.0.parse()?;
    let ip = client_ip(&req, state.settings.server.trust_forwarded_for);
    let pair = miniprogram::login(
        &state.db,
        &state.wechat,
        &state.pii,
        &state.tokens,
        code,
        &ip,
    )
    .await?;
    Ok(web::Json(pair))
}

/// Binds the phone number WeChat verified for the caller.
#[utoipa::path(post, path = "/api/v1/auth/miniprogram/phone", tag = "auth",
    request_body = CodeBody,
    responses((status = 200, body = PhoneBound),
        (status = 409, description = "`phone_taken`: another account with its own history has this number; `wechat_sandbox`: the mini-program runs in sandbox mode here", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a mainland China mobile number", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat refused or failed the call", body = ErrorBody)))]
pub async fn bind_phone(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CodeBody>,
) -> ApiResult<web::Json<PhoneBound>> {
    let code = body.0.parse()?;
    let (bound, tokens) = miniprogram::bind_phone(
        &state.db,
        &state.wechat,
        &state.pii,
        &state.tokens,
        &state.principals,
        caller.user.id,
        code,
    )
    .await?;
    Ok(web::Json(PhoneBound {
        user_id: bound.user_id,
        phone: bound.phone_masked,
        merged: bound.merged,
        tokens,
    }))
}

/// Starts WeChat sign-in for an H5 page: redirects to WeChat's authorize page.
#[utoipa::path(get, path = "/wechat/oauth/authorize", tag = "wechat",
    params(AuthorizeQuery),
    responses((status = 302, description = "To WeChat's authorize page"),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`: use the development login", body = ErrorBody)))]
pub async fn authorize(
    state: web::Data<AppState>,
    query: web::Query<AuthorizeQuery>,
) -> ApiResult<HttpResponse> {
    let started = oauth::authorize(&state.settings, &state.wechat, &query.redirect, query.scope)?;
    let cookie = Cookie::build(NONCE_COOKIE, started.nonce)
        .path("/wechat/oauth")
        .http_only(true)
        .secure(started.secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            oauth::STATE_TTL_SECS,
        ))
        .finish();
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, started.location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish())
}

/// WeChat's return: exchanges the code and sends the browser back to the
/// page with `#access_token=…&refresh_token=…&expires_in=…&user_id=…`.
#[utoipa::path(get, path = "/wechat/oauth/callback", tag = "wechat",
    params(OauthCallbackQuery),
    responses((status = 302, description = "Back to the page, tokens in the fragment"),
        (status = 400, description = "`oauth_state_invalid` or `redirect_not_allowed`", body = ErrorBody),
        (status = 403, description = "`account_disabled`: the account is disabled", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many sign-ins from this address; retry after `Retry-After` seconds", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn callback(
    state: web::Data<AppState>,
    query: web::Query<OauthCallbackQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let cookie = req.cookie(NONCE_COOKIE);
    let ip = client_ip(&req, state.settings.server.trust_forwarded_for);
    let page = oauth::finish(
        &state.db,
        &state.settings,
        &state.wechat,
        &state.pii,
        &state.tokens,
        oauth::OauthReturn {
            redirect: &query.redirect,
            state: &query.state,
            code: query.code.as_deref(),
            nonce: cookie.as_ref().map(|c| c.value()),
            client_ip: &ip,
        },
    )
    .await?;
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, page.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish())
}

/// A JS-SDK signature for an allowlisted page.
#[utoipa::path(get, path = "/api/v1/wechat/jssdk-config", tag = "wechat",
    params(JssdkQuery),
    responses((status = 200, body = JssdkConfig),
        (status = 400, description = "`redirect_not_allowed`", body = ErrorBody),
        (status = 409, description = "`wechat_sandbox`", body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`: WeChat did not give a JS-SDK ticket", body = ErrorBody)))]
pub async fn jssdk_config(
    state: web::Data<AppState>,
    query: web::Query<JssdkQuery>,
) -> ApiResult<web::Json<JssdkConfig>> {
    let config =
        oauth::jssdk_config(&state.db, &state.settings.wechat, &state.wechat, &query.url).await?;
    Ok(web::Json(config))
}

/// Pushes `[[wechat.menu]]` from the configuration to the service account.
#[utoipa::path(post, path = "/api/v1/wechat/menu/sync", tag = "wechat",
    responses((status = 200, body = MenuSynced),
        (status = 502, description = "`wechat_unavailable`: WeChat refused the menu", body = ErrorBody)))]
pub async fn sync_route(state: web::Data<AppState>) -> ApiResult<web::Json<MenuSynced>> {
    Ok(web::Json(
        menu::sync(&state.wechat, &state.db, &state.settings.wechat.menu).await?,
    ))
}

/// The caller's invitation code: neighbours who follow the account through
/// it are recorded as invited by the caller.
#[utoipa::path(post, path = "/api/v1/me/invite-qr", tag = "wechat",
    responses((status = 200, body = QrCode),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn invite_qr(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<QrCode>> {
    let code = qr::invite_code(&state.db, &state.wechat, caller.user.id).await?;
    Ok(web::Json(QrCode::new(
        &state.settings.server.public_base_url,
        code,
    )))
}

/// A pickup point's permanent code, to print and put up at the point.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pickup-points/{pickup_point_id}/qr", tag = "wechat",
    params(("community_id" = CommunityId, Path), ("pickup_point_id" = PickupPointId, Path)),
    responses((status = 200, body = QrCode), (status = 404, body = ErrorBody),
        (status = 502, description = "`wechat_unavailable`", body = ErrorBody)))]
pub async fn pickup_point_qr(
    state: web::Data<AppState>,
    scope: CommunityScope,
    caller: Caller,
    path: web::Path<(CommunityId, PickupPointId)>,
) -> ApiResult<web::Json<QrCode>> {
    let (_, point_id) = path.into_inner();
    let code = qr::pickup_point_code(
        &state.db,
        &state.wechat,
        scope.id(),
        point_id,
        caller.user.id,
    )
    .await?;
    Ok(web::Json(QrCode::new(
        &state.settings.server.public_base_url,
        code,
    )))
}

/// The code as an SVG image (public: it is meant to be printed and shared).
#[utoipa::path(get, path = "/api/v1/wechat/qr-codes/{qr_id}/image", tag = "wechat",
    params(("qr_id" = QrCodeId, Path)),
    responses((status = 200, description = "SVG", content_type = "image/svg+xml"), (status = 404, body = ErrorBody)))]
pub async fn qr_image(
    state: web::Data<AppState>,
    path: web::Path<QrCodeId>,
) -> ApiResult<HttpResponse> {
    let svg = qr::image_svg(&state.db, path.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(svg))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER};
    vec![
        // WeChat callbacks (the signature is the authorization). Early in the
        // table on purpose: actix tries resources in registration order, and
        // these are the busiest unauthenticated routes.
        route::<__path_verify_url, _, _>(Public, verify_url),
        route::<__path_receive, _, _>(Public, receive),
        route::<__path_login, _, _>(Public, login),
        route::<__path_bind_phone, _, _>(SignedIn, bind_phone),
        // WeChat: callbacks (the signature is the authorization), OAuth, JS-SDK, menu, QR codes
        route::<__path_authorize, _, _>(Public, authorize),
        route::<__path_callback, _, _>(Public, callback),
        route::<__path_jssdk_config, _, _>(Public, jssdk_config),
        route::<__path_sync_route, _, _>(OperatorAdmin, sync_route),
        route::<__path_invite_qr, _, _>(SignedIn, invite_qr),
        route::<__path_pickup_point_qr, _, _>(Staff(MANAGER), pickup_point_qr),
        route::<__path_qr_image, _, _>(Public, qr_image),
    ]
}
