//! The courier endpoints: delivery companies and their staff, couriers
//! registered by merchants, the property and companies, passes and
//! suspensions. Handlers only; the rules are in `super::service`.

use actix_web::{HttpResponse, web};
use entity::{CommunityId, CourierId, DeliveryCompanyId, EmployerKind, MerchantId};

use super::service::{self, Employer};
use super::views::{
    CSV_HEADER, CompanyStaffMember, Courier, CourierFilter, CourierStatusChange, DeliveryCompany,
    NewCompany, NewCompanyStaff, NewCourier, PassRenewal,
};
use crate::auth::{Caller, CommunityScope, CompanyScope, MerchantScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery, csv_response};
use crate::state::AppState;

// ---------------------------------------------------------------- companies

/// Register a third-party delivery company.
#[utoipa::path(post, path = "/api/v1/delivery-companies", tag = "couriers", request_body = NewCompany,
    responses((status = 201, body = DeliveryCompany), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_company(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewCompany>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let created = service::create_company(&state.db, &state.pii, fields, caller.user.id).await?;
    Ok(HttpResponse::Created().json(DeliveryCompany::from(created)))
}

/// The registered delivery companies.
#[utoipa::path(get, path = "/api/v1/delivery-companies", tag = "couriers", params(PageQuery),
    responses((status = 200, body = Page<DeliveryCompany>)))]
pub async fn list_companies(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DeliveryCompany>>> {
    let page = service::list_companies(&state.db, query.parse()?).await?;
    Ok(web::Json(page.map(DeliveryCompany::from)))
}

// ---------------------------------------------------------------- couriers

/// Register one of the merchant's couriers.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/couriers", tag = "couriers",
    params(("merchant_id" = MerchantId, Path)), request_body = NewCourier,
    responses((status = 201, body = Courier), (status = 422, body = ErrorBody)))]
pub async fn register_for_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    scope: MerchantScope,
    body: Json<NewCourier>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let employer = Employer {
        kind: EmployerKind::Merchant,
        merchant: Some(scope.merchant.id),
        company: None,
        community: None,
    };
    let saved = service::register(&state.db, &state.pii, employer, fields, caller.user.id).await?;
    Ok(HttpResponse::Created().json(Courier::from(saved)))
}

/// The merchant's couriers.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/couriers", tag = "couriers",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<Courier>)))]
pub async fn list_for_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Vec<Courier>>> {
    let rows = service::merchant_couriers(&state.db, scope.merchant.id).await?;
    Ok(web::Json(rows.into_iter().map(Courier::from).collect()))
}

/// Register one of the property's own couriers for this community
/// (merchants and delivery companies register theirs).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/couriers", tag = "couriers",
    params(("community_id" = CommunityId, Path)), request_body = NewCourier,
    responses((status = 201, body = Courier), (status = 422, body = ErrorBody)))]
pub async fn register_for_property(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    body: Json<NewCourier>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let employer = Employer {
        kind: EmployerKind::Property,
        merchant: None,
        company: None,
        community: Some(scope.id()),
    };
    let saved = service::register(&state.db, &state.pii, employer, fields, caller.user.id).await?;
    Ok(HttpResponse::Created().json(Courier::from(saved)))
}

/// The couriers list as CSV (same filters).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/couriers/export", tag = "couriers",
    params(("community_id" = CommunityId, Path), CourierFilter),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv")))]
pub async fn export_for_community(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<CourierFilter>,
) -> ApiResult<HttpResponse> {
    let rows = service::community_export(&state.db, scope.id(), &filter)
        .await?
        .into_iter()
        .map(|m| Courier::from(m).csv_row())
        .collect();
    csv_response("couriers.csv", CSV_HEADER, rows)
}

/// The couriers who work in this community, by employer.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/couriers", tag = "couriers",
    params(("community_id" = CommunityId, Path), CourierFilter, PageQuery),
    responses((status = 200, body = Page<Courier>)))]
pub async fn list_for_community(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<CourierFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Courier>>> {
    let page = query.parse()?;
    let found = service::community_couriers(&state.db, scope.id(), &filter, page).await?;
    Ok(web::Json(found.map(Courier::from)))
}

/// Suspend one of the property's own couriers (no entry at the gates) or
/// make them active again.
#[utoipa::path(put, path = "/api/v1/communities/{community_id}/couriers/{courier_id}/status", tag = "couriers",
    params(("community_id" = CommunityId, Path), ("courier_id" = CourierId, Path)), request_body = CourierStatusChange,
    responses((status = 200, body = Courier), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_status(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, CourierId)>,
    body: Json<CourierStatusChange>,
) -> ApiResult<web::Json<Courier>> {
    // Checked once the courier is found (a stranger's answers 404 first).
    let saved = service::set_status(&state.db, scope.id(), path.1, body.into_inner()).await?;
    Ok(web::Json(saved.into()))
}

/// Renew the pass of one of the property's own couriers.
#[utoipa::path(put, path = "/api/v1/communities/{community_id}/couriers/{courier_id}/pass", tag = "couriers",
    params(("community_id" = CommunityId, Path), ("courier_id" = CourierId, Path)), request_body = PassRenewal,
    responses((status = 200, body = Courier), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn renew_pass(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, CourierId)>,
    body: Json<PassRenewal>,
) -> ApiResult<web::Json<Courier>> {
    let until = body.into_inner().parse()?;
    let saved = service::renew_property_pass(&state.db, scope.id(), path.1, until).await?;
    Ok(web::Json(saved.into()))
}

/// Renew the pass of one of the merchant's couriers.
#[utoipa::path(put, path = "/api/v1/merchants/{merchant_id}/couriers/{courier_id}/pass", tag = "couriers",
    params(("merchant_id" = MerchantId, Path), ("courier_id" = CourierId, Path)), request_body = PassRenewal,
    responses((status = 200, body = Courier), (status = 404, body = ErrorBody),
        (status = 409, description = "`conflict`: the property suspended this courier", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn renew_merchant_pass(
    state: web::Data<AppState>,
    scope: MerchantScope,
    path: web::Path<(MerchantId, CourierId)>,
    body: Json<PassRenewal>,
) -> ApiResult<web::Json<Courier>> {
    let until = body.into_inner().parse()?;
    let saved = service::renew_merchant_pass(&state.db, scope.merchant.id, path.1, until).await?;
    Ok(web::Json(saved.into()))
}

// ---------------------------------------------------------------- the company's side

/// Give someone a delivery company account (operator admins set up the
/// first; company staff add colleagues).
#[utoipa::path(post, path = "/api/v1/delivery-companies/{company_id}/staff", tag = "couriers",
    params(("company_id" = DeliveryCompanyId, Path)), request_body = NewCompanyStaff,
    responses((status = 201, body = CompanyStaffMember), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_company_staff(
    state: web::Data<AppState>,
    scope: CompanyScope,
    body: Json<NewCompanyStaff>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let member =
        service::add_company_staff(&state.db, &state.pii, scope.company.id, fields).await?;
    state.principals.invalidate(member.user_id);
    Ok(HttpResponse::Created().json(member))
}

/// The delivery company's staff accounts.
#[utoipa::path(get, path = "/api/v1/delivery-companies/{company_id}/staff", tag = "couriers",
    params(("company_id" = DeliveryCompanyId, Path)),
    responses((status = 200, body = Vec<CompanyStaffMember>)))]
pub async fn list_company_staff(
    state: web::Data<AppState>,
    scope: CompanyScope,
) -> ApiResult<web::Json<Vec<CompanyStaffMember>>> {
    Ok(web::Json(
        service::company_staff(&state.db, scope.company.id).await?,
    ))
}

/// Register one of the company's couriers.
#[utoipa::path(post, path = "/api/v1/delivery-companies/{company_id}/couriers", tag = "couriers",
    params(("company_id" = DeliveryCompanyId, Path)), request_body = NewCourier,
    responses((status = 201, body = Courier), (status = 422, body = ErrorBody)))]
pub async fn register_for_company(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CompanyScope,
    body: Json<NewCourier>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let employer = Employer {
        kind: EmployerKind::Company,
        merchant: None,
        company: Some(scope.company.id),
        community: None,
    };
    let saved = service::register(&state.db, &state.pii, employer, fields, caller.user.id).await?;
    Ok(HttpResponse::Created().json(Courier::from(saved)))
}

/// The company's couriers.
#[utoipa::path(get, path = "/api/v1/delivery-companies/{company_id}/couriers", tag = "couriers",
    params(("company_id" = DeliveryCompanyId, Path)),
    responses((status = 200, body = Vec<Courier>)))]
pub async fn list_for_company(
    state: web::Data<AppState>,
    scope: CompanyScope,
) -> ApiResult<web::Json<Vec<Courier>>> {
    let rows = service::company_couriers(&state.db, scope.company.id).await?;
    Ok(web::Json(rows.into_iter().map(Courier::from).collect()))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{COURIER_STAFF, MANAGER, MERCHANT_ANY, MERCHANT_OWNER};
    vec![
        // Couriers and delivery companies
        route::<__path_create_company, _, _>(OperatorAdmin, create_company),
        route::<__path_list_companies, _, _>(SignedIn, list_companies),
        route::<__path_register_for_merchant, _, _>(Merchant(MERCHANT_OWNER), register_for_merchant),
        route::<__path_list_for_merchant, _, _>(Merchant(MERCHANT_ANY), list_for_merchant),
        route::<__path_renew_merchant_pass, _, _>(Merchant(MERCHANT_OWNER), renew_merchant_pass),
        route::<__path_register_for_property, _, _>(Staff(MANAGER), register_for_property),
        route::<__path_list_for_community, _, _>(Staff(COURIER_STAFF), list_for_community),
        route::<__path_export_for_community, _, _>(Staff(COURIER_STAFF), export_for_community),
        route::<__path_set_status, _, _>(Staff(MANAGER), set_status),
        route::<__path_renew_pass, _, _>(Staff(MANAGER), renew_pass),
        route::<__path_add_company_staff, _, _>(Company, add_company_staff),
        route::<__path_list_company_staff, _, _>(Company, list_company_staff),
        route::<__path_register_for_company, _, _>(Company, register_for_company),
        route::<__path_list_for_company, _, _>(Company, list_for_company),
    ]
}
