//! Merchants over HTTP: their own side (registering, the profile, staff,
//! applications) and the property's (lists, visits, verification,
//! rejection and suspension).

use actix_web::{HttpResponse, web};
use entity::{CommunityId, MerchantId, MerchantStaffId};

use super::service::{self, Action};
use super::views::{
    Application, Approval, CommunityMerchant, CommunityMerchantDetail, Merchant, MerchantChanges,
    MerchantFilter, MerchantStaffMember, MerchantVerification, NewMerchant, NewMerchantStaff,
    NewVisit, Reason, Visit,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::flows::merchants;
use crate::kernel::clock;
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

/// Apply as a merchant (商家入驻). The caller becomes the merchant's owner;
/// each named community's staff then verify the merchant there.
#[utoipa::path(post, path = "/api/v1/merchants", tag = "merchants", request_body = NewMerchant,
    responses((status = 201, body = Merchant), (status = 422, body = ErrorBody)))]
pub async fn create_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewMerchant>,
) -> ApiResult<HttpResponse> {
    let made = service::profile::register(&state.db, &state.pii, body.into_inner(), caller.user.id)
        .await?;
    state.principals.invalidate(caller.user.id);
    Ok(HttpResponse::Created().json(made))
}

/// The merchants whose staff I am on.
#[utoipa::path(get, path = "/api/v1/me/merchants", tag = "merchants",
    responses((status = 200, body = Vec<Merchant>)))]
pub async fn my_merchants(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<Merchant>>> {
    let ids: Vec<MerchantId> = caller.merchant_roles.iter().map(|(m, _)| *m).collect();
    Ok(web::Json(service::profile::profiles(&state.db, ids).await?))
}

/// A merchant's profile and its standing in each community.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Merchant), (status = 404, body = ErrorBody)))]
pub async fn get_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Merchant>> {
    Ok(web::Json(
        service::profile::profile(&state.db, scope.merchant).await?,
    ))
}

/// Update the profile. Changing a verified detail (name, scope, categories,
/// location, address, owner) sends the merchant back to review in every
/// community where it was verified, expired or rejected (`applied`); a
/// suspension stays. The contact phone changes without review.
#[utoipa::path(patch, path = "/api/v1/merchants/{merchant_id}", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)), request_body = MerchantChanges,
    responses((status = 200, body = Merchant), (status = 403, body = ErrorBody),
        (status = 409, description = "`invalid_transition`: a community's review status changed meanwhile; reload and try again", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
    body: Json<MerchantChanges>,
) -> ApiResult<web::Json<Merchant>> {
    let edit = body.into_inner().parse(&state.pii)?;
    Ok(web::Json(
        merchants::change_details(&state.db, &state.settings, scope.merchant, edit).await?,
    ))
}

/// Apply to serve another community, or apply again after a rejection.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/applications", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)), request_body = Application,
    responses(
        (status = 201, body = Approval),
        (status = 409, description = "Already applied and not rejected", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn apply(
    state: web::Data<AppState>,
    scope: MerchantScope,
    body: Json<Application>,
) -> ApiResult<HttpResponse> {
    let approval =
        service::submit_application(&state.db, scope.merchant.id, body.0.community_id).await?;
    Ok(HttpResponse::Created().json(approval))
}

/// The merchant's staff.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/staff", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<MerchantStaffMember>)))]
pub async fn list_merchant_staff(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Vec<MerchantStaffMember>>> {
    Ok(web::Json(
        service::staff::list(&state.db, scope.merchant.id).await?,
    ))
}

/// Add a staff account (店员).
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/staff", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)), request_body = NewMerchantStaff,
    responses((status = 201, body = MerchantStaffMember), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_merchant_staff(
    state: web::Data<AppState>,
    scope: MerchantScope,
    body: Json<NewMerchantStaff>,
) -> ApiResult<HttpResponse> {
    let invite = body.into_inner().parse()?;
    let member = service::staff::add(&state.db, &state.pii, scope.merchant.id, invite).await?;
    state.principals.invalidate(member.user_id);
    Ok(HttpResponse::Created().json(member))
}

/// Remove a staff account (owners are not removed here).
#[utoipa::path(delete, path = "/api/v1/merchants/{merchant_id}/staff/{staff_id}", tag = "merchants",
    params(("merchant_id" = MerchantId, Path), ("staff_id" = MerchantStaffId, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_merchant_staff(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, MerchantStaffId)>,
) -> ApiResult<HttpResponse> {
    let removed = service::staff::remove(&state.db, scope.merchant.id, path.1).await?;
    state.principals.invalidate(removed);
    Ok(HttpResponse::NoContent().finish())
}

/// The merchants list as CSV (same filters).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/merchants/export", tag = "merchants",
    params(("community_id" = CommunityId, Path), MerchantFilter),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv")))]
pub async fn export_community_merchants(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<MerchantFilter>,
) -> ApiResult<HttpResponse> {
    let rows = service::community::export(&state.db, scope.id(), &filter)
        .await?
        .into_iter()
        .map(CommunityMerchant::csv_row)
        .collect();
    crate::kernel::http::csv_response("merchants.csv", &CommunityMerchant::CSV_HEADER, rows)
}

/// The merchants serving or applying to serve this community.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/merchants", tag = "merchants",
    params(("community_id" = CommunityId, Path), MerchantFilter, PageQuery),
    responses((status = 200, body = Page<CommunityMerchant>)))]
pub async fn list_community_merchants(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<MerchantFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<CommunityMerchant>>> {
    let page = query.parse()?;
    Ok(web::Json(
        service::community::list(&state.db, scope.id(), &filter, page).await?,
    ))
}

/// One merchant of this community, with the visits recorded here.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}", tag = "merchants",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = CommunityMerchantDetail), (status = 404, body = ErrorBody)))]
pub async fn get_community_merchant(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
) -> ApiResult<web::Json<CommunityMerchantDetail>> {
    Ok(web::Json(
        service::community::detail(&state.db, scope.id(), path.1).await?,
    ))
}

/// Record a verification visit (扫街).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}/visits", tag = "merchants",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)), request_body = NewVisit,
    responses((status = 201, body = Visit), (status = 404, body = ErrorBody),
        (status = 409, description = "`conflict`: a photo is listed twice, or already belongs to another visit", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn record_visit(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
    body: Json<NewVisit>,
) -> ApiResult<HttpResponse> {
    let record = body.into_inner().parse(clock::now())?;
    let (visit, photos) =
        service::community::record_visit(&state.db, caller.user.id, scope.id(), path.1, record)
            .await?;
    Ok(HttpResponse::Created().json(Visit::new(visit, photos)))
}

/// Verify (or re-verify) a merchant in this community until a date.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}/verify", tag = "merchants",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)), request_body = MerchantVerification,
    responses((status = 200, body = Approval), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn verify_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
    body: Json<MerchantVerification>,
) -> ApiResult<web::Json<Approval>> {
    let verification = body.into_inner().parse(clock::now())?;
    let approval =
        service::community::verify(&state.db, caller.user.id, scope.id(), path.1, verification)
            .await?;
    Ok(web::Json(approval))
}

/// Reject a merchant's application in this community.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}/reject", tag = "merchants",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)), request_body = Reason,
    responses((status = 200, body = Approval), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
    body: Json<Reason>,
) -> ApiResult<web::Json<Approval>> {
    decide(&state, &caller, &scope, path.1, Action::Reject, &body.0).await
}

/// Suspend a verified merchant in this community: it cannot sell here.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/merchants/{merchant_id}/suspend", tag = "merchants",
    params(("community_id" = CommunityId, Path), ("merchant_id" = MerchantId, Path)), request_body = Reason,
    responses((status = 200, body = Approval), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn suspend_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, MerchantId)>,
    body: Json<Reason>,
) -> ApiResult<web::Json<Approval>> {
    decide(&state, &caller, &scope, path.1, Action::Suspend, &body.0).await
}

/// Rejects or suspends, with the reason the merchant will see.
async fn decide(
    state: &AppState,
    caller: &Caller,
    scope: &CommunityScope,
    merchant: MerchantId,
    action: Action,
    body: &Reason,
) -> ApiResult<web::Json<Approval>> {
    let reason = body.parse()?;
    let approval = merchants::decide(
        &state.db,
        &state.settings,
        caller.user.id,
        scope.id(),
        merchant,
        action,
        reason,
    )
    .await?;
    Ok(web::Json(approval))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER, MERCHANT_ANY, MERCHANT_OWNER, MERCHANT_REVIEWERS};
    vec![
        // Merchants: their side
        route::<__path_create_merchant, _, _>(SignedIn, create_merchant),
        route::<__path_my_merchants, _, _>(SignedIn, my_merchants),
        route::<__path_get_merchant, _, _>(Merchant(MERCHANT_ANY), get_merchant),
        route::<__path_update_merchant, _, _>(Merchant(MERCHANT_OWNER), update_merchant),
        route::<__path_apply, _, _>(Merchant(MERCHANT_OWNER), apply),
        route::<__path_list_merchant_staff, _, _>(Merchant(MERCHANT_ANY), list_merchant_staff),
        route::<__path_add_merchant_staff, _, _>(Merchant(MERCHANT_OWNER), add_merchant_staff),
        route::<__path_remove_merchant_staff, _, _>(Merchant(MERCHANT_OWNER), remove_merchant_staff),
        // Merchants: the property's side
        route::<__path_list_community_merchants, _, _>(Staff(MERCHANT_REVIEWERS), list_community_merchants),
        // Before /merchants/{merchant_id}, which would also match "export".
        route::<__path_export_community_merchants, _, _>(Staff(MERCHANT_REVIEWERS), export_community_merchants),
        route::<__path_get_community_merchant, _, _>(Staff(MERCHANT_REVIEWERS), get_community_merchant),
        route::<__path_record_visit, _, _>(Staff(MERCHANT_REVIEWERS), record_visit),
        route::<__path_verify_merchant, _, _>(Staff(MANAGER), verify_merchant),
        route::<__path_reject_merchant, _, _>(Staff(MANAGER), reject_merchant),
        route::<__path_suspend_merchant, _, _>(Staff(MANAGER), suspend_merchant),
    ]
}
