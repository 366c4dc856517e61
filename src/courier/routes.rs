use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    CommunityId, CourierId, CourierStatus, DeliveryCompanyId, EmployerKind, MerchantId, UserId,
    courier, delivery_company, delivery_company_staff, merchant_approval,
};
use rand::Rng;
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Caller, CommunityScope, CompanyScope, MerchantScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{clock, text};
use crate::pii::{PiiCipher, seal_id_number, seal_phone};
use crate::state::AppState;

// ---------------------------------------------------------------- companies

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCompany {
    pub id: DeliveryCompanyId,
    pub name: String,
    /// Masked.
    pub contact_phone: String,
    pub created_at: DateTime<Utc>,
}

impl From<delivery_company::Model> for DeliveryCompany {
    fn from(m: delivery_company::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            contact_phone: m.contact_phone_masked,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
    pub contact_phone: String,
}

/// Register a third-party delivery company.
#[utoipa::path(post, path = "/api/v1/delivery-companies", tag = "couriers", request_body = NewCompany,
    responses((status = 201, body = DeliveryCompany), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_company(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewCompany>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let name = text::required("name", &body.name, 100)?;
    let phone = seal_phone(&state.pii, "contact_phone", &body.contact_phone)?;
    let created = delivery_company::ActiveModel {
        id: Set(DeliveryCompanyId::new()),
        name: Set(name),
        contact_phone_hash: Set(phone.hash),
        contact_phone_enc: Set(phone.enc),
        contact_phone_masked: Set(phone.masked),
        created_by: Set(caller.user.id),
        created_at: Set(clock::now()),
    }
    .insert(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(DeliveryCompany::from(created)))
}

/// The registered delivery companies.
#[utoipa::path(get, path = "/api/v1/delivery-companies", tag = "couriers", params(PageQuery),
    responses((status = 200, body = Page<DeliveryCompany>)))]
pub async fn list_companies(
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DeliveryCompany>>> {
    let page = query
        .parse()?
        .fetch(
            delivery_company::Entity::find(),
            delivery_company::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    Ok(web::Json(page.map(DeliveryCompany::from)))
}

// ---------------------------------------------------------------- couriers

/// A courier, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Courier {
    pub id: CourierId,
    pub employer_kind: EmployerKind,
    pub merchant_id: Option<MerchantId>,
    pub company_id: Option<DeliveryCompanyId>,
    pub community_id: Option<CommunityId>,
    pub name: String,
    pub phone: String,
    pub id_number: String,
    /// Get a link with `GET /api/v1/files/{id}/link`.
    pub photo_file_id: Option<entity::FileId>,
    /// The pass (通行证) number guards check.
    pub pass_number: String,
    pub pass_valid_until: DateTime<Utc>,
    pub status: CourierStatus,
    pub status_reason: Option<String>,
    /// Active with a valid pass: may be let in now.
    pub may_pass: bool,
    pub created_at: DateTime<Utc>,
}

impl From<courier::Model> for Courier {
    fn from(m: courier::Model) -> Self {
        Self {
            may_pass: m.may_pass(clock::now()),
            id: m.id,
            employer_kind: m.employer_kind,
            merchant_id: m.merchant_id,
            company_id: m.company_id,
            community_id: m.community_id,
            name: m.name,
            phone: m.phone_masked,
            id_number: m.id_number_masked,
            photo_file_id: m.photo_file_id,
            pass_number: m.pass_number,
            pass_valid_until: m.pass_valid_until,
            status: m.status,
            status_reason: m.status_reason,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourier {
    pub name: String,
    pub phone: String,
    pub id_number: String,
    /// The pass's end (future, at most one year ahead).
    pub pass_valid_until: DateTime<Utc>,
    /// The courier's photo: an image you uploaded (`POST /api/v1/files`).
    pub photo_file_id: Option<entity::FileId>,
}

fn pass_until(value: DateTime<Utc>) -> ApiResult<DateTime<Utc>> {
    let now = clock::now();
    if value <= now || value > now + chrono::Duration::days(366) {
        return Err(ApiError::invalid_field(
            "pass_valid_until",
            "must be in the future, at most one year ahead",
        ));
    }
    Ok(value)
}

/// `AJ` and ten random digits; unique (the index says so, and a clash is
/// retried).
fn pass_number() -> String {
    format!("AJ{:010}", rand::rng().random_range(0..10_000_000_000u64))
}

/// Who employs a courier being registered.
pub struct Employer {
    pub kind: EmployerKind,
    pub merchant: Option<MerchantId>,
    pub company: Option<DeliveryCompanyId>,
    pub community: Option<CommunityId>,
}

/// Registers a courier with a fresh pass number.
pub async fn register<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    employer: Employer,
    body: NewCourier,
    by: UserId,
) -> ApiResult<courier::Model> {
    let name = text::required("name", &body.name, 64)?;
    let phone = seal_phone(pii, "phone", &body.phone)?;
    let id = seal_id_number(pii, "id_number", &body.id_number)?;
    let until = pass_until(body.pass_valid_until)?;
    let photo = match body.photo_file_id {
        Some(f) => Some(
            crate::files::service::own_image(db, by, f, "photo_file_id")
                .await?
                .id,
        ),
        None => None,
    };
    let now = clock::now();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let row = courier::ActiveModel {
            id: Set(CourierId::new()),
            employer_kind: Set(employer.kind),
            merchant_id: Set(employer.merchant),
            company_id: Set(employer.company),
            community_id: Set(employer.community),
            name: Set(name.clone()),
            phone_hash: Set(phone.hash.clone()),
            phone_enc: Set(phone.enc.clone()),
            phone_masked: Set(phone.masked.clone()),
            id_number_hash: Set(id.hash.clone()),
            id_number_enc: Set(id.enc.clone()),
            id_number_masked: Set(id.masked.clone()),
            photo_file_id: Set(photo),
            pass_number: Set(pass_number()),
            pass_valid_until: Set(until),
            status: Set(CourierStatus::Active),
            status_reason: Set(None),
            registered_by: Set(by),
            created_at: Set(now),
            updated_at: Set(now),
        };
        match row.insert(db).await {
            Ok(saved) => return Ok(saved),
            Err(e) if attempt < 3 && crate::kernel::db::is_unique_violation(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

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
    let body = body.into_inner();
    let employer = Employer {
        kind: EmployerKind::Merchant,
        merchant: Some(scope.merchant.id),
        company: None,
        community: None,
    };
    let saved = register(&state.db, &state.pii, employer, body, caller.user.id).await?;
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
    let rows = courier::Entity::find()
        .filter(courier::Column::MerchantId.eq(scope.merchant.id))
        .order_by_asc(courier::Column::Id)
        .all(&state.db)
        .await?;
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
    let body = body.into_inner();
    let employer = Employer {
        kind: EmployerKind::Property,
        merchant: None,
        company: None,
        community: Some(scope.id()),
    };
    let saved = register(&state.db, &state.pii, employer, body, caller.user.id).await?;
    Ok(HttpResponse::Created().json(Courier::from(saved)))
}

/// Couriers who work in this community: the property's own, those of
/// merchants verified here now, and those of delivery companies (who serve
/// every community).
fn visible_in(community: CommunityId, merchants: Vec<MerchantId>) -> Condition {
    Condition::any()
        .add(courier::Column::CommunityId.eq(community))
        .add(courier::Column::MerchantId.is_in(merchants))
        .add(courier::Column::EmployerKind.eq(EmployerKind::Company))
}

/// The merchants verified in `community` right now.
async fn merchants_of(state: &AppState, community: CommunityId) -> ApiResult<Vec<MerchantId>> {
    let now = clock::now();
    Ok(merchant_approval::Entity::find()
        .select_only()
        .column(merchant_approval::Column::MerchantId)
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .filter(merchant_approval::Column::Status.eq(entity::MerchantStatus::Verified))
        .filter(merchant_approval::Column::VerifiedUntil.gt(now))
        .into_tuple()
        .all(&state.db)
        .await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CourierFilter {
    pub employer_kind: Option<EmployerKind>,
    pub merchant_id: Option<MerchantId>,
    pub company_id: Option<DeliveryCompanyId>,
    pub status: Option<CourierStatus>,
}

/// The couriers working in `community` that match `filter`.
async fn filtered(
    state: &AppState,
    community: CommunityId,
    filter: &CourierFilter,
) -> ApiResult<sea_orm::Select<courier::Entity>> {
    let merchants = merchants_of(state, community).await?;
    let mut select = courier::Entity::find().filter(visible_in(community, merchants));
    if let Some(k) = filter.employer_kind {
        select = select.filter(courier::Column::EmployerKind.eq(k));
    }
    if let Some(m) = filter.merchant_id {
        select = select.filter(courier::Column::MerchantId.eq(m));
    }
    if let Some(c) = filter.company_id {
        select = select.filter(courier::Column::CompanyId.eq(c));
    }
    if let Some(s) = filter.status {
        select = select.filter(courier::Column::Status.eq(s));
    }
    Ok(select)
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
    let rows = filtered(&state, scope.id(), &filter)
        .await?
        .order_by_asc(courier::Column::Id)
        .limit(crate::kernel::http::EXPORT_LIMIT)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| {
            let c = Courier::from(m);
            let employer = c
                .merchant_id
                .map(|m| m.to_string())
                .or(c.company_id.map(|m| m.to_string()))
                .or(c.community_id.map(|m| m.to_string()))
                .unwrap_or_default();
            vec![
                c.id.to_string(),
                c.name,
                c.phone,
                crate::kernel::http::wire_name(&c.employer_kind),
                employer,
                c.pass_number,
                c.pass_valid_until.to_rfc3339(),
                crate::kernel::http::wire_name(&c.status),
                c.may_pass.to_string(),
            ]
        })
        .collect();
    crate::kernel::http::csv_response(
        "couriers.csv",
        &[
            "id",
            "name",
            "phone",
            "employer_kind",
            "employer_id",
            "pass_number",
            "pass_valid_until",
            "status",
            "may_pass",
        ],
        rows,
    )
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
    let select = filtered(&state, scope.id(), &filter).await?;
    let page = query
        .parse()?
        .fetch(select, courier::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page.map(Courier::from)))
}

/// A courier who works in `community`, or 404.
pub async fn visible_courier(
    state: &AppState,
    community: CommunityId,
    id: CourierId,
) -> ApiResult<courier::Model> {
    let merchants = merchants_of(state, community).await?;
    courier::Entity::find_by_id(id)
        .filter(visible_in(community, merchants))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourierStatusChange {
    pub status: CourierStatus,
    /// Required when suspending (at most 200 characters).
    pub reason: Option<String>,
}

/// One of the property's own couriers of `community`: the only couriers
/// whose status and pass the property changes (merchants and companies
/// manage theirs, which work in other communities too).
async fn own_courier(
    state: &AppState,
    community: CommunityId,
    id: CourierId,
) -> ApiResult<courier::Model> {
    let found = visible_courier(state, community, id).await?;
    if found.community_id != Some(community) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this courier is managed by their merchant or delivery company",
        ));
    }
    Ok(found)
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
    let body = body.into_inner();
    let current = own_courier(&state, scope.id(), path.1).await?;
    let reason = match (body.status, body.reason.as_deref()) {
        (CourierStatus::Suspended, Some(r)) => Some(text::required("reason", r, 200)?),
        (CourierStatus::Suspended, None) => {
            return Err(ApiError::invalid_field(
                "reason",
                "say why the courier is suspended",
            ));
        }
        (CourierStatus::Active, _) => None,
    };
    let mut m = current.into_active_model();
    m.status = Set(body.status);
    m.status_reason = Set(reason);
    m.updated_at = Set(clock::now());
    Ok(web::Json(m.update(&state.db).await?.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassRenewal {
    pub pass_valid_until: DateTime<Utc>,
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
    let until = pass_until(body.0.pass_valid_until)?;
    let current = own_courier(&state, scope.id(), path.1).await?;
    let mut m = current.into_active_model();
    m.pass_valid_until = Set(until);
    m.updated_at = Set(clock::now());
    Ok(web::Json(m.update(&state.db).await?.into()))
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
    let until = pass_until(body.0.pass_valid_until)?;
    let current = courier::Entity::find_by_id(path.1)
        .filter(courier::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if current.status == CourierStatus::Suspended {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the property suspended this courier; ask the property",
        ));
    }
    let mut m = current.into_active_model();
    m.pass_valid_until = Set(until);
    m.updated_at = Set(clock::now());
    Ok(web::Json(m.update(&state.db).await?.into()))
}

// ---------------------------------------------------------------- the company's side

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyStaffMember {
    pub id: entity::CompanyStaffId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompanyStaff {
    /// Finds the person by phone number, or creates their account.
    pub phone: String,
    pub display_name: String,
}

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
    let body = body.into_inner();
    let phone = crate::pii::PhoneNumber::parse(&body.phone)
        .map_err(|e| ApiError::invalid_field("phone", e))?;
    let name = text::required("display_name", &body.display_name, 64)?;
    let txn = crate::kernel::db::begin_write(&state.db).await?;
    let person = match crate::user::service::find_by_phone(&txn, &state.pii, &phone).await? {
        Some(u) => u,
        None => crate::user::service::create(&txn, &state.pii, name, Some(&phone), None).await?,
    };
    let row = delivery_company_staff::ActiveModel {
        id: Set(entity::CompanyStaffId::new()),
        company_id: Set(scope.company.id),
        user_id: Set(person.id),
        created_at: Set(clock::now()),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    state.principals.invalidate(person.id);
    Ok(HttpResponse::Created().json(CompanyStaffMember {
        id: row.id,
        user_id: person.id,
        display_name: person.display_name,
        phone: person.phone_masked,
        since: row.created_at,
    }))
}

/// The delivery company's staff accounts.
#[utoipa::path(get, path = "/api/v1/delivery-companies/{company_id}/staff", tag = "couriers",
    params(("company_id" = DeliveryCompanyId, Path)),
    responses((status = 200, body = Vec<CompanyStaffMember>)))]
pub async fn list_company_staff(
    state: web::Data<AppState>,
    scope: CompanyScope,
) -> ApiResult<web::Json<Vec<CompanyStaffMember>>> {
    let rows = delivery_company_staff::Entity::find()
        .filter(delivery_company_staff::Column::CompanyId.eq(scope.company.id))
        .order_by_asc(delivery_company_staff::Column::Id)
        .all(&state.db)
        .await?;
    let users: std::collections::HashMap<UserId, entity::user::Model> =
        entity::user::Entity::find()
            .filter(entity::user::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
    Ok(web::Json(
        rows.into_iter()
            .filter_map(|r| {
                let u = users.get(&r.user_id)?;
                Some(CompanyStaffMember {
                    id: r.id,
                    user_id: u.id,
                    display_name: u.display_name.clone(),
                    phone: u.phone_masked.clone(),
                    since: r.created_at,
                })
            })
            .collect(),
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
    let body = body.into_inner();
    let employer = Employer {
        kind: EmployerKind::Company,
        merchant: None,
        company: Some(scope.company.id),
        community: None,
    };
    let saved = register(&state.db, &state.pii, employer, body, caller.user.id).await?;
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
    let rows = courier::Entity::find()
        .filter(courier::Column::CompanyId.eq(scope.company.id))
        .order_by_asc(courier::Column::Id)
        .all(&state.db)
        .await?;
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
