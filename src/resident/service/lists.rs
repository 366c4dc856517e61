//! The lists: the directory of communities that residents search to claim
//! a household, and the back office's list of verified residents.

use std::collections::HashMap;

use entity::{
    BuildingId, CommunityId, HouseholdId, MemberRole, UserId, community, household,
    household_member, user,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{Addresses, households_by_id};
use crate::kernel::error::ApiResult;
use crate::kernel::http::{EXPORT_LIMIT, Page, PageRequest};

/// One page of the communities whose name contains `q` (all of them
/// without one), whoever asks.
pub async fn communities<C: ConnectionTrait>(
    db: &C,
    q: Option<&str>,
    page: PageRequest,
) -> ApiResult<Page<community::Model>> {
    let mut select = community::Entity::find();
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
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
    Ok(page
        .fetch(select, community::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Which verified residents to list: of one building, in one role.
pub struct ResidentSearch {
    pub building: Option<BuildingId>,
    pub role: Option<MemberRole>,
}

/// A verified resident: their membership, account and household's address.
pub struct ResidentDetails {
    pub member: household_member::Model,
    pub user: user::Model,
    pub address: String,
}

/// One page of the community's verified residents that match `search`.
pub async fn residents<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    search: ResidentSearch,
    page: PageRequest,
) -> ApiResult<Page<ResidentDetails>> {
    let select = matching(db, community, search).await?;
    let page = page
        .fetch(select, household_member::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    let items = details(db, community, page.items).await?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The community's verified residents that match `search`, for a CSV
/// export (at most `EXPORT_LIMIT`).
pub async fn residents_for_export<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    search: ResidentSearch,
) -> ApiResult<Vec<ResidentDetails>> {
    let members = matching(db, community, search)
        .await?
        .order_by_asc(household_member::Column::Id)
        .limit(EXPORT_LIMIT)
        .all(db)
        .await?;
    details(db, community, members).await
}

/// The current memberships of `community` that match `search`.
async fn matching<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    search: ResidentSearch,
) -> ApiResult<sea_orm::Select<household_member::Entity>> {
    let mut select = household_member::Entity::find()
        .filter(household_member::Column::CommunityId.eq(community))
        .filter(household_member::Column::RemovedAt.is_null());
    if let Some(b) = search.building {
        let in_building: Vec<HouseholdId> = household::Entity::find()
            .filter(household::Column::CommunityId.eq(community))
            .filter(household::Column::BuildingId.eq(b))
            .all(db)
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect();
        select = select.filter(household_member::Column::HouseholdId.is_in(in_building));
    }
    if let Some(r) = search.role {
        select = select.filter(household_member::Column::Role.eq(r));
    }
    Ok(select)
}

/// Each membership with its account and address (memberships whose
/// account is gone are left out).
async fn details<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    members: Vec<household_member::Model>,
) -> ApiResult<Vec<ResidentDetails>> {
    let addresses = Addresses::load(db, community).await?;
    let households = households_by_id(db, members.iter().map(|m| m.household_id)).await?;
    let users: HashMap<UserId, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(members.iter().map(|m| m.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(members
        .into_iter()
        .filter_map(|m| {
            let user = users.get(&m.user_id)?.clone();
            let address = households
                .get(&m.household_id)
                .map(|h| addresses.label(h))
                .unwrap_or_default();
            Some(ResidentDetails {
                member: m,
                user,
                address,
            })
        })
        .collect())
}
