//! The resident endpoints: the community directory, claims and their
//! decisions, households and their members, family invitations, and the
//! back office's lists. Each checks its request, calls one service function
//! and shapes the answer.

use actix_web::{HttpResponse, web};
use entity::{ClaimId, CommunityId, HouseholdId, HouseholdMemberId};

use super::service::{self, claims, invites, lists};
use super::views::{
    AcceptInvite, CLAIM_COLUMNS, Claim, ClaimApproval, ClaimFilter, DirectoryEntry, DirectoryQuery,
    Invite, Member, Membership, MyHousehold, MyHouseholds, NewClaimBody, RESIDENT_COLUMNS,
    Rejection, Resident, ResidentFilter, claim_rows, resident_rows,
};
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery, csv_response};
use crate::state::AppState;

// ---------------------------------------------------------------- directory

/// Find your community (小区) by name, to claim your household in it.
#[utoipa::path(get, path = "/api/v1/community-directory", tag = "residents",
    params(DirectoryQuery, PageQuery),
    responses((status = 200, body = Page<DirectoryEntry>)))]
pub async fn directory(
    state: web::Data<AppState>,
    search: web::Query<DirectoryQuery>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<DirectoryEntry>>> {
    let page = query.parse()?;
    let found = lists::communities(&state.db, search.q.as_deref(), page).await?;
    Ok(web::Json(found.map(DirectoryEntry::from)))
}

// ---------------------------------------------------------------- claims

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
    // Handed over unchecked: an ill-formed attempt counts against the daily
    // limit too.
    let attempt = body.into_inner().parse();
    let (filed, verified) = claims::file_claim(
        &state.db,
        &state.settings.residents,
        scope.id(),
        &caller.user,
        attempt,
    )
    .await?;
    if verified {
        state.principals.invalidate(caller.user.id);
    }
    Ok(HttpResponse::Created().json(Claim::from(filed)))
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
    let page = query.parse()?;
    let found = claims::claims(&state.db, scope.id(), filter.status(), page).await?;
    Ok(web::Json(found.map(Claim::from)))
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
    let terms = body.into_inner().into();
    let member = claims::approve(
        &state.db,
        &state.settings,
        scope.id(),
        path.1,
        caller.user.id,
        terms,
    )
    .await?;
    state.principals.invalidate(member.user_id);
    Ok(web::Json(member.into()))
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
    let reason = body.into_inner().parse()?;
    claims::reject(
        &state.db,
        &state.settings,
        scope.id(),
        path.1,
        caller.user.id,
        reason,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- memberships

/// My households, and where my claims stand.
#[utoipa::path(get, path = "/api/v1/me/households", tag = "residents",
    responses((status = 200, body = MyHouseholds)))]
pub async fn my_households(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MyHouseholds>> {
    let (households, claims) = service::my_households(&state.db, &caller.user).await?;
    Ok(web::Json(MyHouseholds {
        households: households.into_iter().map(MyHousehold::from).collect(),
        claims: claims.into_iter().map(Claim::from).collect(),
    }))
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
    let rows = service::members(&state.db, &scope, path.1).await?;
    Ok(web::Json(Member::list(rows)))
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
    let (code, expires_at) = invites::create(
        &state.db,
        &state.settings.residents,
        &scope,
        caller.user.id,
        path.1,
    )
    .await?;
    Ok(HttpResponse::Created().json(Invite { code, expires_at }))
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
    let member = invites::accept(&state.db, &body.0.code, caller.user.id).await?;
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
    let removed =
        service::remove_member(&state.db, &scope, caller.user.id, household_id, member_id).await?;
    state.principals.invalidate(removed);
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- back office

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
    let page = query.parse()?;
    let found = lists::residents(&state.db, scope.id(), filter.search(), page).await?;
    Ok(web::Json(Page {
        items: Resident::list(found.items),
        next_cursor: found.next_cursor,
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
    let found = lists::residents_for_export(&state.db, scope.id(), filter.search()).await?;
    csv_response(
        "residents.csv",
        RESIDENT_COLUMNS,
        resident_rows(Resident::list(found)),
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
    let found = claims::claims_for_export(&state.db, scope.id(), filter.status()).await?;
    csv_response("claims.csv", CLAIM_COLUMNS, claim_rows(found))
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
