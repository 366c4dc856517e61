use std::collections::HashMap;
use std::time::Duration;

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use entity::{
    BuildingId, ClaimId, ClaimStatus, CommunityId, HouseholdId, HouseholdMemberId, MemberRole,
    UnitId, UserId, VerifiedVia, building, community, household, household_claim, household_member,
    unit, user,
};
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, NewClaim, NewMembership};
use crate::auth::access::BUILDING_STAFF;
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::{clock, db, text};
use crate::rate_limit;
use crate::state::AppState;

/// Building and unit names of a community, to write addresses.
struct Addresses {
    buildings: HashMap<BuildingId, String>,
    units: HashMap<UnitId, String>,
}

impl Addresses {
    async fn load<C: ConnectionTrait>(db: &C, community: CommunityId) -> ApiResult<Self> {
        Ok(Self {
            buildings: building::Entity::find()
                .filter(building::Column::CommunityId.eq(community))
                .all(db)
                .await?
                .into_iter()
                .map(|b| (b.id, b.name))
                .collect(),
            units: unit::Entity::find()
                .filter(unit::Column::CommunityId.eq(community))
                .all(db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.name))
                .collect(),
        })
    }

    /// `1号楼 1单元 101`
    fn label(&self, h: &household::Model) -> String {
        let mut parts = vec![
            self.buildings
                .get(&h.building_id)
                .cloned()
                .unwrap_or_default(),
        ];
        if let Some(u) = h.unit_id.and_then(|u| self.units.get(&u)) {
            parts.push(u.clone());
        }
        parts.push(h.room.clone());
        parts.join(" ")
    }
}

// ---------------------------------------------------------------- directory

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryEntry {
    pub id: CommunityId,
    pub name: String,
    pub address: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Part of the community's name.
    pub q: Option<String>,
}

/// Find your community (小区) by name, to claim your household in it.
#[utoipa::path(get, path = "/api/v1/community-directory", tag = "residents",
    params(DirectoryQuery, PageQuery),
    responses((status = 200, body = Page<DirectoryEntry>)))]
pub async fn directory(
    state: web::Data<AppState>,
    search: web::Query<DirectoryQuery>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DirectoryEntry>>> {
    let mut select = community::Entity::find();
    if let Some(q) = search.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // Escaped (so % and _ are letters) and case-insensitive on both
        // engines (SQLite's LIKE ignores ASCII case, PostgreSQL's does not).
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        select = select.filter(
            Expr::expr(Func::lower(Expr::col((
                community::Entity,
                community::Column::Name,
            ))))
            .like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
    let page = query
        .parse()?
        .fetch(select, community::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page.map(|c| DirectoryEntry {
        id: c.id,
        name: c.name,
        address: c.address,
    })))
}

// ---------------------------------------------------------------- claims

#[derive(Debug, Serialize, ToSchema)]
pub struct Claim {
    pub id: ClaimId,
    pub household_id: HouseholdId,
    /// `1号楼 1单元 101`
    pub address: String,
    pub claimant_id: UserId,
    pub claimant_name: String,
    /// The claimant's phone, masked.
    pub claimant_phone: Option<String>,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub status: ClaimStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn claim_view(c: household_claim::Model, address: String, phone: Option<String>) -> Claim {
    Claim {
        id: c.id,
        household_id: c.household_id,
        address,
        claimant_id: c.user_id,
        claimant_name: c.claimant_name,
        claimant_phone: phone,
        role: c.role,
        tenant_until: c.tenant_until,
        note: c.note,
        status: c.status,
        reason: c.reason,
        decided_at: c.decided_at,
        created_at: c.created_at,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClaimBody {
    /// The building's name as the property writes it, e.g. `1号楼`.
    pub building: String,
    /// The unit, e.g. `1单元` (omit for buildings without units).
    pub unit: Option<String>,
    /// The room, e.g. `1202`.
    pub room: String,
    /// Your name: an owner's must match the property's register.
    pub name: String,
    pub role: MemberRole,
    /// For tenants: when the tenancy ends.
    pub tenant_until: Option<DateTime<Utc>>,
    /// For the building manager (at most 200 characters).
    pub note: Option<String>,
}

/// Claim a household (认证住户).
///
/// An owner whose name and verified phone number match the property's
/// register is verified at once (`status: auto_verified`); any other claim
/// waits for a building manager (`status: pending`). At most
/// `residents.claims_per_day` claims a day.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/claims", tag = "residents",
    params(("community_id" = CommunityId, Path)), request_body = NewClaimBody,
    responses(
        (status = 201, body = Claim),
        (status = 409, description = "Already a member, or a claim is pending", body = ErrorBody),
        (status = 422, description = "No such household, or a bad field", body = ErrorBody),
        (status = 429, body = ErrorBody),
    ))]
pub async fn file_claim(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    body: Json<NewClaimBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let key = format!("claims:user:{}", caller.user.id);
    let day = Duration::from_secs(24 * 3600);
    let limit = state.settings.residents.claims_per_day;
    if let Some(retry) = rate_limit::blocked_for(&state.db, &key, limit, day).await? {
        return Err(ApiError::rate_limited(retry));
    }
    rate_limit::record(&state.db, &key, day).await?;

    let name = text::required("name", &body.name, 64)?;
    let note = body
        .note
        .as_deref()
        .map(|n| text::required("note", n, 200))
        .transpose()?;
    let tenant_until = service::parse_tenant_until(body.role, body.tenant_until)?;
    let txn = db::begin_write(&state.db).await?;
    let household = service::find_by_address(
        &txn,
        scope.id(),
        &body.building,
        body.unit.as_deref(),
        &body.room,
    )
    .await?
    .ok_or_else(|| {
        ApiError::invalid_field("room", "no household at this address in this community")
    })?;
    let (claim, membership) = service::file_claim(
        &txn,
        NewClaim {
            household: household.clone(),
            claimant: caller.user.clone(),
            name,
            role: body.role,
            tenant_until,
            note,
        },
    )
    .await?;
    txn.commit().await?;
    if membership.is_some() {
        state.principals.invalidate(caller.user.id);
    }
    let addresses = Addresses::load(&state.db, scope.id()).await?;
    Ok(HttpResponse::Created().json(claim_view(
        claim,
        addresses.label(&household),
        caller.user.phone_masked.clone(),
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimFilter {
    /// Default: `pending`.
    pub status: Option<ClaimStatus>,
}

/// Claims for building managers to decide (pending by default).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/claims", tag = "residents",
    params(("community_id" = CommunityId, Path), ClaimFilter, PageQuery),
    responses((status = 200, body = Page<Claim>)))]
pub async fn list_claims(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<ClaimFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Claim>>> {
    let select = household_claim::Entity::find()
        .filter(household_claim::Column::CommunityId.eq(scope.id()))
        .filter(household_claim::Column::Status.eq(filter.status.unwrap_or(ClaimStatus::Pending)));
    let page = query
        .parse()?
        .fetch(
            select,
            household_claim::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    let addresses = Addresses::load(&state.db, scope.id()).await?;
    let households: HashMap<HouseholdId, household::Model> = household::Entity::find()
        .filter(household::Column::Id.is_in(page.items.iter().map(|c| c.household_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let phones: HashMap<UserId, Option<String>> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|c| c.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.phone_masked))
        .collect();
    Ok(web::Json(page.map(|c| {
        let address = households
            .get(&c.household_id)
            .map(|h| addresses.label(h))
            .unwrap_or_default();
        let phone = phones.get(&c.user_id).cloned().flatten();
        claim_view(c, address, phone)
    })))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimApproval {
    /// The role to grant, if not the one claimed.
    pub role: Option<MemberRole>,
    /// For tenants: when the tenancy ends (default: the one claimed).
    pub tenant_until: Option<DateTime<Utc>>,
}

/// Approve a pending claim: the claimant becomes a member of the household.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/claims/{claim_id}/approve", tag = "residents",
    params(("community_id" = CommunityId, Path), ("claim_id" = ClaimId, Path)), request_body = ClaimApproval,
    responses(
        (status = 200, body = Membership),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already decided, or already a member", body = ErrorBody),
    ))]
pub async fn approve_claim(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, ClaimId)>,
    body: Json<ClaimApproval>,
) -> ApiResult<web::Json<Membership>> {
    let body = body.into_inner();
    let txn = db::begin_write(&state.db).await?;
    let claim = service::find_claim(&txn, scope.id(), path.1).await?;
    let role = body.role.unwrap_or(claim.role);
    let until = service::parse_tenant_until(
        role,
        body.tenant_until
            .or(claim.tenant_until)
            .filter(|_| role == MemberRole::Tenant),
    )?;
    service::decide_claim(&txn, &claim, ClaimStatus::Approved, caller.user.id, None).await?;
    let member = service::add_member(
        &txn,
        NewMembership {
            community: claim.community_id,
            household: claim.household_id,
            user: claim.user_id,
            role,
            tenant_until: until,
            via: VerifiedVia::Staff,
            verified_by: Some(caller.user.id),
        },
    )
    .await?;
    notify_result(&txn, &state, &claim, "已通过").await?;
    txn.commit().await?;
    state.principals.invalidate(claim.user_id);
    Ok(web::Json(member.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Shown to the claimant (at most 200 characters).
    pub reason: String,
}

/// Reject a pending claim, with a reason for the claimant.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/claims/{claim_id}/reject", tag = "residents",
    params(("community_id" = CommunityId, Path), ("claim_id" = ClaimId, Path)), request_body = Rejection,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, description = "Already decided", body = ErrorBody)))]
pub async fn reject_claim(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, ClaimId)>,
    body: Json<Rejection>,
) -> ApiResult<HttpResponse> {
    let reason = text::required("reason", &body.0.reason, 200)?;
    let txn = db::begin_write(&state.db).await?;
    let claim = service::find_claim(&txn, scope.id(), path.1).await?;
    service::decide_claim(
        &txn,
        &claim,
        ClaimStatus::Rejected,
        caller.user.id,
        Some(reason),
    )
    .await?;
    notify_result(&txn, &state, &claim, "未通过").await?;
    txn.commit().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Tells the claimant how their claim was decided (through the outbox, in
/// the decision's transaction).
async fn notify_result<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    claim: &household_claim::Model,
    result: &str,
) -> ApiResult<()> {
    let household = household::Entity::find_by_id(claim.household_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let address = Addresses::load(db, claim.community_id)
        .await?
        .label(&household);
    crate::outbox::notify(
        db,
        &state.settings,
        claim.user_id,
        "verification_result",
        &[("result", result.to_owned()), ("household", address)],
    )
    .await
}

// ---------------------------------------------------------------- memberships

#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub id: HouseholdMemberId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    /// False once a tenancy has ended.
    pub active: bool,
}

impl From<household_member::Model> for Membership {
    fn from(m: household_member::Model) -> Self {
        Self {
            active: m.is_active(clock::now()),
            id: m.id,
            community_id: m.community_id,
            household_id: m.household_id,
            role: m.role,
            tenant_until: m.tenant_until,
            verified_via: m.verified_via,
            since: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHousehold {
    #[serde(flatten)]
    pub membership: Membership,
    pub community_name: String,
    pub address: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHouseholds {
    pub households: Vec<MyHousehold>,
    /// My claims, newest first.
    pub claims: Vec<Claim>,
}

/// My households, and where my claims stand.
#[utoipa::path(get, path = "/api/v1/me/households", tag = "residents",
    responses((status = 200, body = MyHouseholds)))]
pub async fn my_households(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MyHouseholds>> {
    let members = household_member::Entity::find()
        .filter(household_member::Column::UserId.eq(caller.user.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .all(&state.db)
        .await?;
    let claims = household_claim::Entity::find()
        .filter(household_claim::Column::UserId.eq(caller.user.id))
        .order_by_desc(household_claim::Column::Id)
        .all(&state.db)
        .await?;
    let household_ids: Vec<HouseholdId> = members
        .iter()
        .map(|m| m.household_id)
        .chain(claims.iter().map(|c| c.household_id))
        .collect();
    let households: HashMap<HouseholdId, household::Model> = household::Entity::find()
        .filter(household::Column::Id.is_in(household_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let mut addresses: HashMap<CommunityId, Addresses> = HashMap::new();
    let mut names: HashMap<CommunityId, String> = HashMap::new();
    for h in households.values() {
        if let std::collections::hash_map::Entry::Vacant(slot) = addresses.entry(h.community_id) {
            slot.insert(Addresses::load(&state.db, h.community_id).await?);
            if let Some(c) = community::Entity::find_by_id(h.community_id)
                .one(&state.db)
                .await?
            {
                names.insert(c.id, c.name);
            }
        }
    }
    let address_of = |id: HouseholdId| {
        households
            .get(&id)
            .and_then(|h| addresses.get(&h.community_id).map(|a| a.label(h)))
            .unwrap_or_default()
    };
    Ok(web::Json(MyHouseholds {
        households: members
            .into_iter()
            .map(|m| MyHousehold {
                community_name: names.get(&m.community_id).cloned().unwrap_or_default(),
                address: address_of(m.household_id),
                membership: m.into(),
            })
            .collect(),
        claims: claims
            .into_iter()
            .map(|c| {
                let address = address_of(c.household_id);
                claim_view(c, address, caller.user.phone_masked.clone())
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub id: HouseholdMemberId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    pub active: bool,
}

/// A household's members: for its own members and building staff.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/households/{household_id}/members", tag = "residents",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 200, body = Vec<Member>), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    state: web::Data<AppState>,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<web::Json<Vec<Member>>> {
    let household = household_visible(&state, &scope, path.1).await?;
    let rows = household_member::Entity::find()
        .filter(household_member::Column::HouseholdId.eq(household.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .find_also_related(user::Entity)
        .all(&state.db)
        .await?;
    let now = clock::now();
    Ok(web::Json(
        rows.into_iter()
            .filter_map(|(m, u)| {
                let u = u?;
                Some(Member {
                    active: m.is_active(now),
                    id: m.id,
                    user_id: u.id,
                    display_name: u.display_name,
                    phone: u.phone_masked,
                    role: m.role,
                    tenant_until: m.tenant_until,
                    verified_via: m.verified_via,
                    since: m.created_at,
                })
            })
            .collect(),
    ))
}

/// A household the caller may see: one they belong to, or any for building
/// staff. Others answer 404 (a neighbour's household is not theirs to see).
async fn household_visible(
    state: &AppState,
    scope: &CommunityScope,
    id: HouseholdId,
) -> ApiResult<household::Model> {
    let household = crate::structure::service::find_household(&state.db, scope.id(), id).await?;
    if scope.has_any_role(BUILDING_STAFF) || scope.membership(id).is_some() {
        Ok(household)
    } else {
        Err(ApiError::not_found())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invite {
    /// Give it to the family member (as a link or QR code); shown only once.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// Invite a family member (家庭成员): for the household's owners and building
/// staff. The code works once, until it expires (`residents.invite_ttl_hours`).
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/households/{household_id}/invites", tag = "residents",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path)),
    responses((status = 201, body = Invite), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_invite(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId)>,
) -> ApiResult<HttpResponse> {
    let household = household_visible(&state, &scope, path.1).await?;
    let is_owner = scope
        .membership(household.id)
        .is_some_and(|m| m.role == MemberRole::Owner);
    if !is_owner && !scope.has_any_role(BUILDING_STAFF) {
        return Err(ApiError::forbidden());
    }
    let mut raw = [0u8; 18];
    rand::rng().fill_bytes(&mut raw);
    let code = URL_SAFE_NO_PAD.encode(raw);
    let ttl = i64::try_from(state.settings.residents.invite_ttl_hours).unwrap_or(72);
    let expires_at = clock::now() + chrono::Duration::hours(ttl);
    service::create_invite(
        &state.db,
        &household,
        caller.user.id,
        hash_code(&code),
        expires_at,
    )
    .await?;
    Ok(HttpResponse::Created().json(Invite { code, expires_at }))
}

fn hash_code(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub code: String,
}

/// Accept a family invitation: you join the household as a family member.
#[utoipa::path(post, path = "/api/v1/invites/accept", tag = "residents", request_body = AcceptInvite,
    responses(
        (status = 200, body = Membership),
        (status = 404, description = "No such invitation", body = ErrorBody),
        (status = 409, description = "Already a member", body = ErrorBody),
        (status = 410, description = "Expired or used", body = ErrorBody),
    ))]
pub async fn accept_invite(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<AcceptInvite>,
) -> ApiResult<web::Json<Membership>> {
    let txn = db::begin_write(&state.db).await?;
    let member = service::accept_invite(&txn, &hash_code(&body.0.code), caller.user.id).await?;
    txn.commit().await?;
    state.principals.invalidate(caller.user.id);
    Ok(web::Json(member.into()))
}

/// Remove a member: building staff remove anyone, an owner removes family
/// members and tenants, and anyone may leave.
#[utoipa::path(delete, path = "/api/v1/communities/{community_id}/households/{household_id}/members/{member_id}", tag = "residents",
    params(("community_id" = CommunityId, Path), ("household_id" = HouseholdId, Path), ("member_id" = HouseholdMemberId, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    path: web::Path<(CommunityId, HouseholdId, HouseholdMemberId)>,
) -> ApiResult<HttpResponse> {
    let (_, household_id, member_id) = path.into_inner();
    let household = household_visible(&state, &scope, household_id).await?;
    let member = household_member::Entity::find_by_id(member_id)
        .filter(household_member::Column::HouseholdId.eq(household.id))
        .filter(household_member::Column::RemovedAt.is_null())
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let own_role = scope.membership(household.id).map(|m| m.role);
    let allowed = scope.has_any_role(BUILDING_STAFF)
        || member.user_id == caller.user.id
        || (own_role == Some(MemberRole::Owner) && member.role != MemberRole::Owner);
    if !allowed {
        return Err(ApiError::forbidden());
    }
    let user_id = member.user_id;
    service::remove_member(&state.db, member, caller.user.id).await?;
    state.principals.invalidate(user_id);
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- back office

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResidentFilter {
    pub building_id: Option<BuildingId>,
    pub role: Option<MemberRole>,
}

/// A verified resident, as the back office lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resident {
    pub member_id: HouseholdMemberId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub household_id: HouseholdId,
    pub address: String,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    /// False once a tenancy has ended.
    pub active: bool,
}

fn residents_select(
    community: CommunityId,
    households_in_building: Option<Vec<HouseholdId>>,
    role: Option<MemberRole>,
) -> sea_orm::Select<household_member::Entity> {
    let mut select = household_member::Entity::find()
        .filter(household_member::Column::CommunityId.eq(community))
        .filter(household_member::Column::RemovedAt.is_null());
    if let Some(ids) = households_in_building {
        select = select.filter(household_member::Column::HouseholdId.is_in(ids));
    }
    if let Some(r) = role {
        select = select.filter(household_member::Column::Role.eq(r));
    }
    select
}

async fn building_households(
    state: &AppState,
    community: CommunityId,
    building: Option<BuildingId>,
) -> ApiResult<Option<Vec<HouseholdId>>> {
    let Some(b) = building else { return Ok(None) };
    Ok(Some(
        household::Entity::find()
            .filter(household::Column::CommunityId.eq(community))
            .filter(household::Column::BuildingId.eq(b))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect(),
    ))
}

async fn resident_views(
    state: &AppState,
    community: CommunityId,
    members: Vec<household_member::Model>,
) -> ApiResult<Vec<Resident>> {
    let addresses = Addresses::load(&state.db, community).await?;
    let households: HashMap<HouseholdId, household::Model> = household::Entity::find()
        .filter(household::Column::Id.is_in(members.iter().map(|m| m.household_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let users: HashMap<UserId, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(members.iter().map(|m| m.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let now = clock::now();
    Ok(members
        .into_iter()
        .filter_map(|m| {
            let u = users.get(&m.user_id)?;
            let address = households
                .get(&m.household_id)
                .map(|h| addresses.label(h))
                .unwrap_or_default();
            Some(Resident {
                active: m.is_active(now),
                member_id: m.id,
                user_id: u.id,
                display_name: u.display_name.clone(),
                phone: u.phone_masked.clone(),
                household_id: m.household_id,
                address,
                role: m.role,
                tenant_until: m.tenant_until,
                verified_via: m.verified_via,
                since: m.created_at,
            })
        })
        .collect())
}

/// The community's verified residents, by building or role.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/residents", tag = "residents",
    params(("community_id" = CommunityId, Path), ResidentFilter, PageQuery),
    responses((status = 200, body = Page<Resident>)))]
pub async fn list_residents(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<ResidentFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Resident>>> {
    let in_building = building_households(&state, scope.id(), filter.building_id).await?;
    let select = residents_select(scope.id(), in_building, filter.role);
    let page = query
        .parse()?
        .fetch(
            select,
            household_member::Column::Id,
            |m| m.id.as_uuid(),
            &state.db,
        )
        .await?;
    let items = resident_views(&state, scope.id(), page.items).await?;
    Ok(web::Json(Page {
        items,
        next_cursor: page.next_cursor,
    }))
}

/// The residents list as CSV (same filters).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/residents/export", tag = "residents",
    params(("community_id" = CommunityId, Path), ResidentFilter),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv")))]
pub async fn export_residents(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<ResidentFilter>,
) -> ApiResult<HttpResponse> {
    let in_building = building_households(&state, scope.id(), filter.building_id).await?;
    let members = residents_select(scope.id(), in_building, filter.role)
        .order_by_asc(household_member::Column::Id)
        .limit(crate::kernel::http::EXPORT_LIMIT)
        .all(&state.db)
        .await?;
    let rows = resident_views(&state, scope.id(), members)
        .await?
        .into_iter()
        .map(|r| {
            vec![
                r.address,
                r.display_name,
                r.phone.unwrap_or_default(),
                crate::kernel::http::wire_name(&r.role),
                r.tenant_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.since.to_rfc3339(),
                r.active.to_string(),
            ]
        })
        .collect();
    crate::kernel::http::csv_response(
        "residents.csv",
        &[
            "address",
            "name",
            "phone",
            "role",
            "tenant_until",
            "since",
            "active",
        ],
        rows,
    )
}

/// The claims list as CSV (`status`, default pending).
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/claims/export", tag = "residents",
    params(("community_id" = CommunityId, Path), ClaimFilter),
    responses((status = 200, description = "CSV", body = String, content_type = "text/csv")))]
pub async fn export_claims(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<ClaimFilter>,
) -> ApiResult<HttpResponse> {
    let claims = household_claim::Entity::find()
        .filter(household_claim::Column::CommunityId.eq(scope.id()))
        .filter(household_claim::Column::Status.eq(filter.status.unwrap_or(ClaimStatus::Pending)))
        .order_by_asc(household_claim::Column::Id)
        .limit(crate::kernel::http::EXPORT_LIMIT)
        .all(&state.db)
        .await?;
    let addresses = Addresses::load(&state.db, scope.id()).await?;
    let households: HashMap<HouseholdId, household::Model> = household::Entity::find()
        .filter(household::Column::Id.is_in(claims.iter().map(|c| c.household_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let rows = claims
        .into_iter()
        .map(|c| {
            vec![
                c.created_at.to_rfc3339(),
                households
                    .get(&c.household_id)
                    .map(|h| addresses.label(h))
                    .unwrap_or_default(),
                c.claimant_name,
                crate::kernel::http::wire_name(&c.role),
                crate::kernel::http::wire_name(&c.status),
                c.note.unwrap_or_default(),
                c.reason.unwrap_or_default(),
            ]
        })
        .collect();
    crate::kernel::http::csv_response(
        "claims.csv",
        &[
            "filed_at", "address", "claimant", "role", "status", "note", "reason",
        ],
        rows,
    )
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{BUILDING_STAFF};
    vec![
        // Residents: claims, verification, members, invitations
        route::<__path_directory, _, _>(SignedIn, directory),
        route::<__path_file_claim, _, _>(Visitors, file_claim),
        route::<__path_list_claims, _, _>(Staff(BUILDING_STAFF), list_claims),
        route::<__path_export_claims, _, _>(Staff(BUILDING_STAFF), export_claims),
        route::<__path_list_residents, _, _>(Staff(BUILDING_STAFF), list_residents),
        route::<__path_export_residents, _, _>(Staff(BUILDING_STAFF), export_residents),
        route::<__path_approve_claim, _, _>(Staff(BUILDING_STAFF), approve_claim),
        route::<__path_reject_claim, _, _>(Staff(BUILDING_STAFF), reject_claim),
        route::<__path_my_households, _, _>(SignedIn, my_households),
        route::<__path_list_members, _, _>(Residents(BUILDING_STAFF), list_members),
        route::<__path_create_invite, _, _>(Residents(BUILDING_STAFF), create_invite),
        route::<__path_accept_invite, _, _>(SignedIn, accept_invite),
        route::<__path_remove_member, _, _>(Residents(BUILDING_STAFF), remove_member),
    ]
}
