//! The personal-data endpoints: one full value, logged, and the log.

use actix_web::web;
use entity::CommunityId;

use super::service;
use super::views::{AccessEntry, RevealRequest, Revealed};
use crate::auth::{Caller, CommunityScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

/// See one full personal value, logged. Owner records and residents: the
/// manager and building managers; merchants: the manager and customer
/// service; couriers: the manager and gate guards. The subject must belong
/// to this community.
#[utoipa::path(post, path = "/api/v1/communities/{community_id}/pii/reveal", tag = "privacy",
    params(("community_id" = CommunityId, Path)), request_body = RevealRequest,
    responses(
        (status = 200, body = Revealed),
        (status = 403, description = "Your duty does not need this", body = ErrorBody),
        (status = 404, description = "No such subject here, or no such value held", body = ErrorBody),
    ))]
pub async fn reveal(
    state: web::Data<AppState>,
    caller: Caller,
    scope: CommunityScope,
    body: Json<RevealRequest>,
) -> ApiResult<web::Json<Revealed>> {
    let request = body.into_inner().parse(&scope)?;
    let (value, access_id) =
        service::reveal(&state.db, &state.pii, scope.id(), caller.user.id, request).await?;
    Ok(web::Json(Revealed { value, access_id }))
}

/// Who saw which personal data in this community, when and why.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/pii/access-log", tag = "privacy",
    params(("community_id" = CommunityId, Path), PageQuery),
    responses((status = 200, body = Page<AccessEntry>)))]
pub async fn access_log(
    state: web::Data<AppState>,
    scope: CommunityScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<AccessEntry>>> {
    let page = service::access_log(&state.db, scope.id(), query.parse()?).await?;
    Ok(web::Json(page.map(AccessEntry::from)))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{MANAGER, PII_READERS};
    vec![
        // Personal data
        route::<__path_reveal, _, _>(Staff(PII_READERS), reveal),
        route::<__path_access_log, _, _>(Staff(MANAGER), access_log),
    ]
}
