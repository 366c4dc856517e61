//! What the API reads of disputes: one with its order and whole history,
//! and pages of them.

use entity::{
    CommunityId, DisputeId, DisputeStatus, Fen, FileId, HouseholdId, MerchantId, dispute,
    dispute_event, dispute_photo, order,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::held;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::{Page, PageRequest};

/// A dispute, its order, what escrow still holds for it, and its history
/// (oldest first, each step with its photos).
pub struct Detail {
    pub dispute: dispute::Model,
    pub order: order::Model,
    pub held: Fen,
    pub events: Vec<(dispute_event::Model, Vec<FileId>)>,
}

/// `d` with its order and history.
pub async fn detail<C: ConnectionTrait>(db: &C, d: dispute::Model) -> ApiResult<Detail> {
    let o = order::Entity::find_by_id(d.order_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let held = held(db, &o).await?;
    let photos = dispute_photo::Entity::find()
        .filter(dispute_photo::Column::DisputeId.eq(d.id))
        .order_by_asc(dispute_photo::Column::Id)
        .all(db)
        .await?;
    let events = dispute_event::Entity::find()
        .filter(dispute_event::Column::DisputeId.eq(d.id))
        .order_by_asc(dispute_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| {
            let shown = photos
                .iter()
                .filter(|p| p.event_id == e.id)
                .map(|p| p.file_id)
                .collect();
            (e, shown)
        })
        .collect();
    Ok(Detail {
        dispute: d,
        order: o,
        held,
        events,
    })
}

/// A dispute of `community` if `may_see` it (their household's, or any for
/// dispute staff: the caller decides); otherwise not found.
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: DisputeId,
    may_see: impl Fn(&dispute::Model) -> bool,
) -> ApiResult<dispute::Model> {
    dispute::Entity::find_by_id(id)
        .filter(dispute::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .filter(|d| may_see(d))
        .ok_or_else(ApiError::not_found)
}

/// One of `merchant`'s disputes.
pub async fn of_merchant<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    id: DisputeId,
) -> ApiResult<dispute::Model> {
    dispute::Entity::find_by_id(id)
        .filter(dispute::Column::MerchantId.eq(merchant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Whose disputes a list shows.
pub enum Whose {
    /// A community's: all of them, or only these households' (a resident).
    Community(CommunityId, Option<Vec<HouseholdId>>),
    Merchant(MerchantId),
}

/// One page of disputes, oldest first, of one status when given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    whose: Whose,
    status: Option<DisputeStatus>,
    page: PageRequest,
) -> ApiResult<Page<dispute::Model>> {
    let mut select = match whose {
        Whose::Community(community, households) => {
            let select = dispute::Entity::find().filter(dispute::Column::CommunityId.eq(community));
            match households {
                Some(h) => select.filter(dispute::Column::HouseholdId.is_in(h)),
                None => select,
            }
        }
        Whose::Merchant(m) => dispute::Entity::find().filter(dispute::Column::MerchantId.eq(m)),
    };
    if let Some(s) = status {
        select = select.filter(dispute::Column::Status.eq(s));
    }
    Ok(page
        .fetch(select, dispute::Column::Id, |d| d.id.as_uuid(), db)
        .await?)
}
