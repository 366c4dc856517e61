//! A merchant's standing changes in a community (rejected, suspended, or
//! sent back to review by changing its verified details): it may no longer
//! sell there, so its group buys there that take orders pause, in the same
//! transaction. A new shop name also renames it in the catalog's search.

use entity::{CommunityId, MerchantId, UserId, merchant};
use sea_orm::DatabaseConnection;

use crate::config::Settings;
use crate::group_buys::service::pause_merchant;
use crate::kernel::db::begin_write;
use crate::kernel::error::ApiResult;
use crate::merchant::service::{self as merchants, Action};
use crate::merchant::views::{Approval, Merchant, MerchantEdit};

/// Writes `edit` over the merchant's profile; where a verified detail
/// changed sends it back to review, its group buys there pause.
pub async fn change_details(
    db: &DatabaseConnection,
    settings: &Settings,
    current: merchant::Model,
    edit: MerchantEdit,
) -> ApiResult<Merchant> {
    let txn = begin_write(db).await?;
    let (updated, resubmitted) = merchants::profile::update(&txn, &current, edit).await?;
    if updated.shop_name != current.shop_name {
        crate::catalog::search::index_merchant(&txn, updated.id, &updated.shop_name).await?;
    }
    for a in resubmitted {
        pause_merchant(
            &txn,
            settings,
            a.merchant_id,
            a.community_id,
            "the merchant changed its verified details, which the property reviews again",
        )
        .await?;
    }
    txn.commit().await?;
    merchants::profile::profile(db, updated).await
}

/// The property rejects or suspends the merchant in its community, with
/// the reason the merchant (and the participants of its paused group buys)
/// are told.
pub async fn decide(
    db: &DatabaseConnection,
    settings: &Settings,
    by: UserId,
    community: CommunityId,
    merchant: MerchantId,
    action: Action,
    reason: String,
) -> ApiResult<Approval> {
    let why = match action {
        Action::Suspend => format!("the merchant was suspended: {reason}"),
        _ => format!("the merchant was rejected: {reason}"),
    };
    let txn = begin_write(db).await?;
    let moved = merchants::community::decide(&txn, by, community, merchant, action, reason).await?;
    pause_merchant(&txn, settings, merchant, community, &why).await?;
    txn.commit().await?;
    Ok(moved.into())
}
