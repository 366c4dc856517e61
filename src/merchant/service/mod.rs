//! Merchants' rules: a merchant's standing in each community it serves
//! (applied, verified until a date, rejected, suspended, sent back to
//! review: [`next`] says which action leads where), its profile
//! ([`profile`]), its staff ([`staff`]) and the property's side of it
//! ([`community`]: lists, visits, verification, decisions).
//!
//! What a change of standing does to the merchant's group buys is the
//! merchants flow's (`flows/merchants.rs`).

use chrono::{DateTime, Utc};
use entity::{
    CommunityId, MerchantApprovalId, MerchantId, MerchantStatus, UserId, merchant_approval,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::Approval;
use crate::kernel::clock;
use crate::kernel::db::{begin_write, guarded};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

pub mod community;
pub mod profile;
pub mod staff;

pub use profile::{add_staff_row, create};

/// What can happen to a merchant's standing in a community.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The property verifies (or re-verifies, renewing the date).
    Verify,
    /// The property refuses an application.
    Reject,
    /// The property stops a verified merchant from selling.
    Suspend,
    /// The merchant (re-)applies, or changed verified details: back to review.
    Resubmit,
}

/// The one place that says which status an action leads to from which.
/// Takes the *effective* status (a verification past its date is expired).
pub fn next(from: MerchantStatus, action: Action) -> Result<MerchantStatus, ApiError> {
    use MerchantStatus::*;
    let to = match (from, action) {
        (Applied | Verified | Expired | Suspended, Action::Verify) => Some(Verified),
        (Applied, Action::Reject) => Some(Rejected),
        (Verified, Action::Suspend) => Some(Suspended),
        (Rejected | Verified | Expired | Applied, Action::Resubmit) => Some(Applied),
        _ => None,
    };
    to.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidTransition,
            format!("cannot {action:?} a merchant whose status is {from:?}").to_lowercase(),
        )
        .with_details(serde_json::json!({ "status": from, "action": action_name(action) }))
    })
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Verify => "verify",
        Action::Reject => "reject",
        Action::Suspend => "suspend",
        Action::Resubmit => "resubmit",
    }
}

/// Records a new application of `merchant` to serve `community`.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    community: CommunityId,
) -> ApiResult<merchant_approval::Model> {
    let now = clock::now();
    Ok(merchant_approval::ActiveModel {
        id: Set(MerchantApprovalId::new()),
        merchant_id: Set(merchant),
        community_id: Set(community),
        status: Set(MerchantStatus::Applied),
        verified_until: Set(None),
        reason: Set(None),
        decided_by: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The merchant's standing in the community, as stored.
pub async fn find_approval<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    community: CommunityId,
) -> ApiResult<merchant_approval::Model> {
    merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Applies `action` to one approval, conditionally on its stored status not
/// having changed since it was read (two reviewers cannot both win).
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    approval: &merchant_approval::Model,
    action: Action,
    by: Option<UserId>,
    reason: Option<String>,
    verified_until: Option<DateTime<Utc>>,
) -> ApiResult<merchant_approval::Model> {
    let now = clock::now();
    let to = next(approval.effective_status(now), action)?;
    let update = merchant_approval::Entity::update_many()
        .col_expr(merchant_approval::Column::Status, Expr::value(to))
        .col_expr(
            merchant_approval::Column::VerifiedUntil,
            Expr::value(if to == MerchantStatus::Verified {
                verified_until
            } else {
                None
            }),
        )
        .col_expr(merchant_approval::Column::Reason, Expr::value(reason))
        .col_expr(merchant_approval::Column::DecidedBy, Expr::value(by))
        .col_expr(merchant_approval::Column::DecidedAt, Expr::value(Some(now)))
        .col_expr(merchant_approval::Column::UpdatedAt, Expr::value(now))
        .filter(merchant_approval::Column::Id.eq(approval.id))
        .filter(merchant_approval::Column::Status.eq(approval.status));
    guarded(
        db,
        update,
        ApiError::new(
            ErrorCode::InvalidTransition,
            "the merchant's status changed meanwhile; reload and try again",
        ),
    )
    .await?;
    merchant_approval::Entity::find_by_id(approval.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Applies to serve another community, or again after a rejection there
/// (an application standing or decided otherwise is `already_applied`).
pub async fn submit_application(
    db: &DatabaseConnection,
    merchant: MerchantId,
    community: CommunityId,
) -> ApiResult<Approval> {
    if entity::community::Entity::find_by_id(community)
        .one(db)
        .await?
        .is_none()
    {
        return Err(ApiError::invalid_field("community_id", "no such community"));
    }
    let txn = begin_write(db).await?;
    let existing = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(&txn)
        .await?;
    let approval = match existing {
        Some(a) if a.status == MerchantStatus::Rejected => {
            transition(&txn, &a, Action::Resubmit, None, None, None).await?
        }
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::AlreadyApplied,
                "the merchant has already applied to this community",
            ));
        }
        None => apply(&txn, merchant, community).await?,
    };
    txn.commit().await?;
    Ok(approval.into())
}

/// Refuses unless the merchant may sell in the community now (verified
/// there and not expired or suspended).
pub async fn ensure_selling<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    community: CommunityId,
) -> ApiResult<()> {
    let now = clock::now();
    let selling = merchant_approval::Entity::find()
        .filter(merchant_approval::Column::MerchantId.eq(merchant))
        .filter(merchant_approval::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .is_some_and(|a| a.may_sell(now));
    if selling { Ok(()) } else { Err(not_selling()) }
}

/// The refusal of a merchant that may not sell in the community now.
pub fn not_selling() -> ApiError {
    ApiError::new(
        ErrorCode::MerchantNotSelling,
        "this merchant is not verified to sell in this community",
    )
}

#[cfg(test)]
mod tests {
    use super::{Action, next};
    use entity::MerchantStatus::*;

    #[test]
    fn the_merchant_state_machine_allows_exactly_these_moves() {
        assert_eq!(next(Applied, Action::Verify).unwrap(), Verified);
        assert_eq!(next(Applied, Action::Reject).unwrap(), Rejected);
        assert_eq!(next(Verified, Action::Verify).unwrap(), Verified); // renewal
        assert_eq!(next(Verified, Action::Suspend).unwrap(), Suspended);
        assert_eq!(next(Expired, Action::Verify).unwrap(), Verified);
        assert_eq!(next(Suspended, Action::Verify).unwrap(), Verified);
        assert_eq!(next(Rejected, Action::Resubmit).unwrap(), Applied);
        assert_eq!(next(Verified, Action::Resubmit).unwrap(), Applied);
        for (from, action) in [
            (Rejected, Action::Verify),
            (Verified, Action::Reject),
            (Applied, Action::Suspend),
            (Suspended, Action::Resubmit),
            (Suspended, Action::Suspend),
            (Expired, Action::Suspend),
        ] {
            assert!(next(from, action).is_err(), "{from:?} {action:?}");
        }
    }
}
