//! The property's side: the merchants serving (or applying to serve) one
//! community, the visits its staff record (扫街), and its decisions on each
//! merchant's standing there.

use std::collections::HashMap;

use entity::{
    CommunityId, FileId, MerchantId, MerchantStatus, MerchantVisitId, UserId, VisitPhotoId,
    merchant, merchant_approval, merchant_visit, merchant_visit_photo,
};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{Action, find_approval, transition};
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::merchant::views::{
    Approval, CommunityMerchant, CommunityMerchantDetail, Merchant, MerchantFilter, Verification,
    Visit, VisitRecord,
};

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
    db: &DatabaseConnection,
    approvals: Vec<merchant_approval::Model>,
) -> ApiResult<Vec<CommunityMerchant>> {
    let merchants: HashMap<MerchantId, merchant::Model> = merchant::Entity::find()
        .filter(merchant::Column::Id.is_in(approvals.iter().map(|a| a.merchant_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(approvals
        .into_iter()
        .filter_map(|a| {
            let m = merchants.get(&a.merchant_id)?.clone();
            Some(CommunityMerchant {
                merchant: Merchant::new(m, vec![a.clone()]),
                approval: a.into(),
            })
        })
        .collect())
}

/// One page of the community's merchants matching `filter`.
pub async fn list(
    db: &DatabaseConnection,
    community: CommunityId,
    filter: &MerchantFilter,
    page: PageRequest,
) -> ApiResult<Page<CommunityMerchant>> {
    let page = page
        .fetch(
            filtered(community, filter),
            merchant_approval::Column::Id,
            |m| m.id.as_uuid(),
            db,
        )
        .await?;
    let items = with_merchants(db, page.items).await?;
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The community's merchants matching `filter`, up to the export limit.
pub async fn export(
    db: &DatabaseConnection,
    community: CommunityId,
    filter: &MerchantFilter,
) -> ApiResult<Vec<CommunityMerchant>> {
    let approvals = filtered(community, filter)
        .order_by_asc(merchant_approval::Column::Id)
        .limit(crate::kernel::http::EXPORT_LIMIT)
        .all(db)
        .await?;
    with_merchants(db, approvals).await
}

/// A merchant of the community, with its standing there.
pub async fn community_merchant(
    db: &DatabaseConnection,
    community: CommunityId,
    merchant_id: MerchantId,
) -> ApiResult<(merchant::Model, merchant_approval::Model)> {
    let approval = find_approval(db, merchant_id, community).await?;
    let m = merchant::Entity::find_by_id(merchant_id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((m, approval))
}

/// Records a staff member's visit to a merchant of `community`, with the
/// photos they uploaded, in one transaction: the visit and its photos'
/// file ids.
pub async fn record_visit(
    db: &DatabaseConnection,
    by: UserId,
    community: CommunityId,
    merchant_id: MerchantId,
    record: VisitRecord,
) -> ApiResult<(merchant_visit::Model, Vec<FileId>)> {
    let (m, _) = community_merchant(db, community, merchant_id).await?;
    let now = clock::now();
    let txn = begin_write(db).await?;
    let visit = merchant_visit::ActiveModel {
        id: Set(MerchantVisitId::new()),
        merchant_id: Set(m.id),
        community_id: Set(community),
        visited_by: Set(by),
        visited_at: Set(record.visited_at),
        notes: Set(record.notes),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let mut photos = Vec::new();
    for (i, f) in record.photo_file_ids.iter().enumerate() {
        let field = format!("photo_file_ids[{i}]");
        let f = crate::files::service::own_image(&txn, by, *f, &field).await?;
        merchant_visit_photo::ActiveModel {
            id: Set(VisitPhotoId::new()),
            visit_id: Set(visit.id),
            file_id: Set(f.id),
            community_id: Set(community),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        photos.push(f.id);
    }
    txn.commit().await?;
    Ok((visit, photos))
}

/// One merchant of the community, with the visits recorded there (newest
/// first).
pub async fn detail(
    db: &DatabaseConnection,
    community: CommunityId,
    merchant_id: MerchantId,
) -> ApiResult<CommunityMerchantDetail> {
    let (m, approval) = community_merchant(db, community, merchant_id).await?;
    let visits = merchant_visit::Entity::find()
        .filter(merchant_visit::Column::MerchantId.eq(m.id))
        .filter(merchant_visit::Column::CommunityId.eq(community))
        .order_by_desc(merchant_visit::Column::VisitedAt)
        .all(db)
        .await?;
    let photos = merchant_visit_photo::Entity::find()
        .filter(merchant_visit_photo::Column::VisitId.is_in(visits.iter().map(|v| v.id)))
        .all(db)
        .await?;
    let visits = visits
        .into_iter()
        .map(|v| {
            let mine = photos
                .iter()
                .filter(|p| p.visit_id == v.id)
                .map(|p| p.file_id)
                .collect();
            Visit::new(v, mine)
        })
        .collect();
    Ok(CommunityMerchantDetail {
        merchant: Merchant::new(m, vec![approval.clone()]),
        approval: approval.into(),
        visits,
    })
}

/// Verifies (or re-verifies) the merchant in the community until a date,
/// refused when the merchant changed its details after the reviewer read
/// them.
pub async fn verify(
    db: &DatabaseConnection,
    by: UserId,
    community: CommunityId,
    merchant_id: MerchantId,
    verification: Verification,
) -> ApiResult<Approval> {
    let txn = begin_write(db).await?;
    if let Some(seen) = verification.reviewed_updated_at {
        // Locked (PostgreSQL) so an edit cannot land between this check
        // and the transition; SQLite's write transaction serialises anyway.
        let current = merchant::Entity::find_by_id(merchant_id)
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if current.updated_at != seen {
            return Err(ApiError::new(
                ErrorCode::MerchantChanged,
                "the merchant changed its details after you loaded them; review them again",
            )
            .with_details(serde_json::json!({ "updated_at": current.updated_at })));
        }
    }
    let approval = find_approval(&txn, merchant_id, community).await?;
    let moved = transition(
        &txn,
        &approval,
        Action::Verify,
        Some(by),
        None,
        Some(verification.until),
    )
    .await?;
    txn.commit().await?;
    Ok(moved.into())
}

/// Rejects or suspends the merchant in the community with `reason` (which
/// the merchant sees), in the caller's transaction.
pub async fn decide<C: ConnectionTrait>(
    db: &C,
    by: UserId,
    community: CommunityId,
    merchant_id: MerchantId,
    action: Action,
    reason: String,
) -> ApiResult<merchant_approval::Model> {
    let approval = find_approval(db, merchant_id, community).await?;
    transition(db, &approval, action, Some(by), Some(reason), None).await
}
