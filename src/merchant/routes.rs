use std::collections::HashMap;

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    CommunityId, FileId, LocationKind, MerchantId, MerchantRole, MerchantStaffId, MerchantStatus,
    MerchantVisitId, UserId, VisitPhotoId, community, merchant, merchant_approval, merchant_staff,
    merchant_visit, merchant_visit_photo, user,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, Action, NewMerchant};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{clock, db, text};
use crate::pii::{PhoneNumber, seal_id_number, seal_phone};
use crate::state::AppState;

// ---------------------------------------------------------------- views

/// A merchant's standing in one community.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub community_id: CommunityId,
    /// As of now: a verification past its date reads `expired`.
    pub status: MerchantStatus,
    pub verified_until: Option<DateTime<Utc>>,
    /// Why it was rejected or suspended.
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<merchant_approval::Model> for Approval {
    fn from(a: merchant_approval::Model) -> Self {
        Self {
            status: a.effective_status(clock::now()),
            community_id: a.community_id,
            verified_until: a.verified_until,
            reason: a.reason,
            decided_at: a.decided_at,
        }
    }
}

/// A merchant's profile, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Merchant {
    pub id: MerchantId,
    pub shop_name: String,
    pub business_scope: String,
    pub categories: Vec<String>,
    pub location_kind: LocationKind,
    pub address: String,
    /// Masked: `138****1234`.
    pub contact_phone: String,
    pub owner_name: String,
    /// Masked: `350***********123X`.
    pub owner_id_number: String,
    pub communities: Vec<Approval>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn merchant_view(m: merchant::Model, approvals: Vec<merchant_approval::Model>) -> Merchant {
    Merchant {
        id: m.id,
        shop_name: m.shop_name,
        business_scope: m.business_scope,
        categories: m.categories.0,
        location_kind: m.location_kind,
        address: m.address,
        contact_phone: m.contact_phone_masked,
        owner_name: m.owner_name,
        owner_id_number: m.owner_id_masked,
        communities: approvals.into_iter().map(Approval::from).collect(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

async fn approvals_of(
    state: &AppState,
    merchant: MerchantId,
) -> ApiResult<Vec<merchant_approval::Model>> {
    Ok(merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .order_by_asc(merchant_approval::Column::Id)
        .all(&state.db)
        .await?)
}

// ---------------------------------------------------------------- fields

// ---------------------------------------------------------------- merchant side

/// Apply as a merchant (商家入驻). The caller becomes the merchant's owner;
/// each named community's staff then verify the merchant there.
#[utoipa::path(post, path = "/api/v1/merchants", tag = "merchants", request_body = NewMerchant,
    responses((status = 201, body = Merchant), (status = 422, body = ErrorBody)))]
pub async fn create_merchant(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<NewMerchant>,
) -> ApiResult<HttpResponse> {
    let txn = db::begin_write(&state.db).await?;
    let (created, approvals) =
        service::create(&txn, &state.pii, body.into_inner(), caller.user.id).await?;
    txn.commit().await?;
    state.principals.invalidate(caller.user.id);
    Ok(HttpResponse::Created().json(merchant_view(created, approvals)))
}

/// The merchants whose staff I am on.
#[utoipa::path(get, path = "/api/v1/me/merchants", tag = "merchants",
    responses((status = 200, body = Vec<Merchant>)))]
pub async fn my_merchants(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<Vec<Merchant>>> {
    let ids: Vec<MerchantId> = caller.merchant_roles.iter().map(|(m, _)| *m).collect();
    let merchants = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(ids))
        .order_by_asc(merchant::Column::Id)
        .all(&state.db)
        .await?;
    let mut out = Vec::with_capacity(merchants.len());
    for m in merchants {
        let approvals = approvals_of(&state, m.id).await?;
        out.push(merchant_view(m, approvals));
    }
    Ok(web::Json(out))
}

/// A merchant's profile and its standing in each community.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Merchant), (status = 404, body = ErrorBody)))]
pub async fn get_merchant(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Merchant>> {
    let approvals = approvals_of(&state, scope.merchant.id).await?;
    Ok(web::Json(merchant_view(scope.merchant, approvals)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantChanges {
    pub shop_name: Option<String>,
    pub business_scope: Option<String>,
    pub categories: Option<Vec<String>>,
    pub location_kind: Option<LocationKind>,
    pub address: Option<String>,
    /// Contact details change without a new review.
    pub contact_phone: Option<String>,
    pub owner_name: Option<String>,
    pub owner_id_number: Option<String>,
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
    let body = body.into_inner();
    let current = scope.merchant;
    let mut model = current.clone().into_active_model();
    let mut reviewed_change = false;
    if let Some(v) = body.shop_name {
        let v = text::required("shop_name", &v, 100)?;
        reviewed_change |= v != current.shop_name;
        model.shop_name = Set(v);
    }
    if let Some(v) = body.business_scope {
        let v = text::required("business_scope", &v, 500)?;
        reviewed_change |= v != current.business_scope;
        model.business_scope = Set(v);
    }
    if let Some(v) = body.categories {
        let v = service::parse_categories(v)?;
        reviewed_change |= v != current.categories;
        model.categories = Set(v);
    }
    if let Some(v) = body.location_kind {
        reviewed_change |= v != current.location_kind;
        model.location_kind = Set(v);
    }
    if let Some(v) = body.address {
        let v = text::required("address", &v, 200)?;
        reviewed_change |= v != current.address;
        model.address = Set(v);
    }
    if let Some(v) = body.owner_name {
        let v = text::required("owner_name", &v, 64)?;
        reviewed_change |= v != current.owner_name;
        model.owner_name = Set(v);
    }
    if let Some(v) = body.owner_id_number {
        let id = seal_id_number(&state.pii, "owner_id_number", &v)?;
        reviewed_change |= id.hash != current.owner_id_hash;
        model.owner_id_hash = Set(id.hash);
        model.owner_id_enc = Set(id.enc);
        model.owner_id_masked = Set(id.masked);
    }
    if let Some(v) = body.contact_phone {
        let phone = seal_phone(&state.pii, "contact_phone", &v)?;
        model.contact_phone_hash = Set(phone.hash);
        model.contact_phone_enc = Set(phone.enc);
        model.contact_phone_masked = Set(phone.masked);
    }
    model.updated_at = Set(clock::now());
    let txn = db::begin_write(&state.db).await?;
    let updated = model.update(&txn).await?;
    if updated.shop_name != current.shop_name {
        crate::catalog::search::index_merchant(&txn, updated.id, &updated.shop_name).await?;
    }
    if reviewed_change {
        let approvals = merchant_approval::Entity::find()
            .filter(merchant_approval::Column::MerchantId.eq(updated.id))
            .all(&txn)
            .await?;
        let now = clock::now();
        for a in approvals {
            if service::next(a.effective_status(now), Action::Resubmit).is_ok()
                && a.status != MerchantStatus::Applied
            {
                service::transition(&txn, &a, Action::Resubmit, None, None, None).await?;
                crate::group_buys::service::pause_merchant(
                    &txn,
                    &state.settings,
                    a.merchant_id,
                    a.community_id,
                    "the merchant changed its verified details, which the property reviews again",
                )
                .await?;
            }
        }
    }
    txn.commit().await?;
    let approvals = approvals_of(&state, updated.id).await?;
    Ok(web::Json(merchant_view(updated, approvals)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub community_id: CommunityId,
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
    let community = body.0.community_id;
    if community::Entity::find_by_id(community)
        .one(&state.db)
        .await?
        .is_none()
    {
        return Err(ApiError::invalid_field("community_id", "no such community"));
    }
    let txn = db::begin_write(&state.db).await?;
    let existing = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(scope.merchant.id))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(&txn)
        .await?;
    let approval = match existing {
        Some(a) if a.status == MerchantStatus::Rejected => {
            service::transition(&txn, &a, Action::Resubmit, None, None, None).await?
        }
        Some(_) => {
            return Err(ApiError::new(
                crate::kernel::error::ErrorCode::AlreadyApplied,
                "the merchant has already applied to this community",
            ));
        }
        None => service::apply(&txn, scope.merchant.id, community).await?,
    };
    txn.commit().await?;
    Ok(HttpResponse::Created().json(Approval::from(approval)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantStaffMember {
    pub id: MerchantStaffId,
    pub user_id: UserId,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: MerchantRole,
    pub since: DateTime<Utc>,
}

/// The merchant's staff.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/staff", tag = "merchants",
    params(("merchant_id" = MerchantId, Path)),
    responses((status = 200, body = Vec<MerchantStaffMember>)))]
pub async fn list_merchant_staff(
    state: web::Data<AppState>,
    scope: MerchantScope,
) -> ApiResult<web::Json<Vec<MerchantStaffMember>>> {
    let rows = merchant_staff::Entity::find()
        .filter(merchant_staff::Column::MerchantId.eq(scope.merchant.id))
        .find_also_related(user::Entity)
        .order_by_asc(merchant_staff::Column::Id)
        .all(&state.db)
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .filter_map(|(s, u)| {
                let u = u?;
                Some(MerchantStaffMember {
                    id: s.id,
                    user_id: u.id,
                    display_name: u.display_name,
                    phone: u.phone_masked,
                    role: s.role,
                    since: s.created_at,
                })
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchantStaff {
    /// Finds the person by phone number, or creates their account (they sign
    /// in through WeChat).
    pub phone: String,
    pub display_name: String,
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
    let body = body.into_inner();
    let phone = PhoneNumber::parse(&body.phone).map_err(|e| ApiError::invalid_field("phone", e))?;
    let name = text::required("display_name", &body.display_name, 64)?;
    let txn = db::begin_write(&state.db).await?;
    let person = match crate::user::service::find_by_phone(&txn, &state.pii, &phone).await? {
        Some(u) => u,
        None => crate::user::service::create(&txn, &state.pii, name, Some(&phone), None).await?,
    };
    let row =
        service::add_staff_row(&txn, scope.merchant.id, person.id, MerchantRole::Staff).await?;
    txn.commit().await?;
    state.principals.invalidate(person.id);
    Ok(HttpResponse::Created().json(MerchantStaffMember {
        id: row.id,
        user_id: person.id,
        display_name: person.display_name,
        phone: person.phone_masked,
        role: row.role,
        since: row.created_at,
    }))
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
    let row = merchant_staff::Entity::find_by_id(path.1)
        .filter(merchant_staff::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if row.role == MerchantRole::Owner {
        return Err(ApiError::new(
            crate::kernel::error::ErrorCode::Conflict,
            "owners cannot be removed here",
        ));
    }
    merchant_staff::Entity::delete_by_id(row.id)
        .exec(&state.db)
        .await?;
    state.principals.invalidate(row.user_id);
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- property side

/// A merchant as one community's staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityMerchant {
    pub merchant: Merchant,
    /// The standing in this community.
    pub approval: Approval,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MerchantFilter {
    /// As of now (a verification past its date is `expired`).
    pub status: Option<MerchantStatus>,
    /// Verified merchants whose verification ends within this many days.
    pub expiring_within_days: Option<u32>,
}

/// The approvals of `community` matching `filter`, as of now.
fn filtered(
    community: CommunityId,
    filter: &MerchantFilter,
) -> sea_orm::Select<merchant_approval::Entity> {
    let now = clock::now();
    let mut select = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::CommunityId.eq(community));
    let verified = merchant_approval::Column::Status.eq(MerchantStatus::Verified);
    match filter.status {
        Some(MerchantStatus::Verified) => {
            select = select
                .filter(verified.clone())
                .filter(merchant_approval::Column::VerifiedUntil.gt(now));
        }
        Some(MerchantStatus::Expired) => {
            select = select.filter(
                Condition::any()
                    .add(merchant_approval::Column::Status.eq(MerchantStatus::Expired))
                    .add(
                        Condition::all()
                            .add(verified.clone())
                            .add(merchant_approval::Column::VerifiedUntil.lte(now)),
                    ),
            );
        }
        Some(other) => select = select.filter(merchant_approval::Column::Status.eq(other)),
        None => {}
    }
    if let Some(days) = filter.expiring_within_days {
        let horizon = now + chrono::Duration::days(i64::from(days.min(3650)));
        select = select
            .filter(verified)
            .filter(merchant_approval::Column::VerifiedUntil.gt(now))
            .filter(merchant_approval::Column::VerifiedUntil.lte(horizon));
    }
    select
}

/// Attaches each approval's merchant.
async fn with_merchants(
    state: &AppState,
    approvals: Vec<merchant_approval::Model>,
) -> ApiResult<Vec<CommunityMerchant>> {
    let merchants: HashMap<MerchantId, merchant::Model> = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(approvals.iter().map(|a| a.merchant_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(approvals
        .into_iter()
        .filter_map(|a| {
            let m = merchants.get(&a.merchant_id)?.clone();
            Some(CommunityMerchant {
                merchant: merchant_view(m, vec![a.clone()]),
                approval: a.into(),
            })
        })
        .collect())
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
    let approvals = filtered(scope.id(), &filter)
        .order_by_asc(merchant_approval::Column::Id)
        .limit(crate::kernel::http::EXPORT_LIMIT)
        .all(&state.db)
        .await?;
    let rows = with_merchants(&state, approvals)
        .await?
        .into_iter()
        .map(|m| {
            vec![
                m.merchant.id.to_string(),
                m.merchant.shop_name,
                crate::kernel::http::wire_name(&m.merchant.location_kind),
                m.merchant.categories.join("/"),
                m.merchant.address,
                m.merchant.contact_phone,
                m.merchant.owner_name,
                crate::kernel::http::wire_name(&m.approval.status),
                m.approval
                    .verified_until
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                m.approval.reason.unwrap_or_default(),
            ]
        })
        .collect();
    crate::kernel::http::csv_response(
        "merchants.csv",
        &[
            "id",
            "shop_name",
            "location_kind",
            "categories",
            "address",
            "contact_phone",
            "owner_name",
            "status",
            "verified_until",
            "reason",
        ],
        rows,
    )
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
    let select = filtered(scope.id(), &filter);
    let page = query
        .parse()?
        .fetch(
            select,
            merchant_approval::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    let items = with_merchants(&state, page.items).await?;
    Ok(web::Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Visit {
    pub id: MerchantVisitId,
    pub visited_by: UserId,
    pub visited_at: DateTime<Utc>,
    pub notes: String,
    /// Photos taken on the visit (links from `/api/v1/files/{id}/link`).
    pub photo_file_ids: Vec<FileId>,
}

fn visit_view(v: merchant_visit::Model, photos: Vec<FileId>) -> Visit {
    Visit {
        id: v.id,
        visited_by: v.visited_by,
        visited_at: v.visited_at,
        notes: v.notes,
        photo_file_ids: photos,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityMerchantDetail {
    pub merchant: Merchant,
    pub approval: Approval,
    /// This community's verification visits, newest first.
    pub visits: Vec<Visit>,
}

async fn community_merchant(
    state: &AppState,
    community: CommunityId,
    merchant_id: MerchantId,
) -> ApiResult<(merchant::Model, merchant_approval::Model)> {
    let approval = service::find_approval(&state.db, merchant_id, community).await?;
    let m = merchant::Entity::find_by_id(merchant_id)
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((m, approval))
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
    let (m, approval) = community_merchant(&state, scope.id(), path.1).await?;
    let visits = merchant_visit::Entity::find()
        .filter(merchant_visit::Column::MerchantId.eq(m.id))
        .filter(merchant_visit::Column::CommunityId.eq(scope.id()))
        .order_by_desc(merchant_visit::Column::VisitedAt)
        .all(&state.db)
        .await?;
    Ok(web::Json(CommunityMerchantDetail {
        merchant: merchant_view(m, vec![approval.clone()]),
        approval: approval.into(),
        visits: {
            let photos = merchant_visit_photo::Entity::find()
                .filter(merchant_visit_photo::Column::VisitId.is_in(visits.iter().map(|v| v.id)))
                .all(&state.db)
                .await?;
            visits
                .into_iter()
                .map(|v| {
                    let mine = photos
                        .iter()
                        .filter(|p| p.visit_id == v.id)
                        .map(|p| p.file_id)
                        .collect();
                    visit_view(v, mine)
                })
                .collect()
        },
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    /// What was found (at most 1000 characters).
    pub notes: String,
    /// Default: now.
    pub visited_at: Option<DateTime<Utc>>,
    /// Photos taken on the visit: images you uploaded.
    #[serde(default)]
    pub photo_file_ids: Vec<FileId>,
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
    let body = body.into_inner();
    let (m, _) = community_merchant(&state, scope.id(), path.1).await?;
    let notes = text::required("notes", &body.notes, 1000)?;
    let now = clock::now();
    let visited_at = body.visited_at.unwrap_or(now);
    if visited_at > now + chrono::Duration::minutes(5)
        || visited_at < now - chrono::Duration::days(366)
    {
        return Err(ApiError::invalid_field(
            "visited_at",
            "must be within the past year, not in the future",
        ));
    }
    if body.photo_file_ids.len() > 9 {
        return Err(ApiError::invalid_field(
            "photo_file_ids",
            "at most 9 photos a visit",
        ));
    }
    let txn = db::begin_write(&state.db).await?;
    let visit = merchant_visit::ActiveModel {
        id: Set(MerchantVisitId::new()),
        merchant_id: Set(m.id),
        community_id: Set(scope.id()),
        visited_by: Set(caller.user.id),
        visited_at: Set(visited_at),
        notes: Set(notes),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut photos = Vec::new();
    for (i, f) in body.photo_file_ids.iter().enumerate() {
        let field = format!("photo_file_ids[{i}]");
        let f = crate::files::routes::own_image(&txn, caller.user.id, *f, &field).await?;
        merchant_visit_photo::ActiveModel {
            id: Set(VisitPhotoId::new()),
            visit_id: Set(visit.id),
            file_id: Set(f.id),
            community_id: Set(scope.id()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        photos.push(f.id);
    }
    txn.commit().await?;
    Ok(HttpResponse::Created().json(visit_view(visit, photos)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantVerification {
    /// Until when the merchant may sell here (future, at most 3 years).
    pub valid_until: DateTime<Utc>,
    /// The merchant's `updated_at` as the reviewer saw it. When given, the
    /// verification is refused (`409 merchant_changed`) if the merchant has
    /// changed its details since: reload and review again. Back offices
    /// should always send it.
    pub reviewed_updated_at: Option<DateTime<Utc>>,
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
    let until = body.0.valid_until;
    let now = clock::now();
    if until <= now || until > now + chrono::Duration::days(3 * 366) {
        return Err(ApiError::invalid_field(
            "valid_until",
            "must be in the future, at most 3 years ahead",
        ));
    }
    let txn = db::begin_write(&state.db).await?;
    if let Some(seen) = body.0.reviewed_updated_at {
        // Locked (PostgreSQL) so an edit cannot land between this check
        // and the transition; SQLite's write transaction serialises anyway.
        let current = merchant::Entity::find_by_id(path.1)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if current.updated_at != seen {
            return Err(ApiError::new(
                crate::kernel::error::ErrorCode::MerchantChanged,
                "the merchant changed its details after you loaded them; review them again",
            )
            .with_details(serde_json::json!({ "updated_at": current.updated_at })));
        }
    }
    let approval = service::find_approval(&txn, path.1, scope.id()).await?;
    let moved = service::transition(
        &txn,
        &approval,
        Action::Verify,
        Some(caller.user.id),
        None,
        Some(until),
    )
    .await?;
    txn.commit().await?;
    Ok(web::Json(moved.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Shown to the merchant (at most 200 characters).
    pub reason: String,
}

/// Rejects or suspends, with the reason the merchant will see.
async fn decide_with_reason(
    state: &AppState,
    caller: &Caller,
    scope: &CommunityScope,
    merchant: MerchantId,
    action: Action,
    reason: &str,
) -> ApiResult<web::Json<Approval>> {
    let reason = text::required("reason", reason, 200)?;
    let txn = db::begin_write(&state.db).await?;
    let approval = service::find_approval(&txn, merchant, scope.id()).await?;
    let moved = service::transition(
        &txn,
        &approval,
        action,
        Some(caller.user.id),
        Some(reason.clone()),
        None,
    )
    .await?;
    let why = match action {
        Action::Suspend => format!("the merchant was suspended: {reason}"),
        _ => format!("the merchant was rejected: {reason}"),
    };
    crate::group_buys::service::pause_merchant(&txn, &state.settings, merchant, scope.id(), &why)
        .await?;
    txn.commit().await?;
    Ok(web::Json(moved.into()))
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
    decide_with_reason(
        &state,
        &caller,
        &scope,
        path.1,
        Action::Reject,
        &body.0.reason,
    )
    .await
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
    decide_with_reason(
        &state,
        &caller,
        &scope,
        path.1,
        Action::Suspend,
        &body.0.reason,
    )
    .await
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
