use chrono::{DateTime, Utc};
use entity::{
    CommunityId, MerchantApprovalId, MerchantId, MerchantStatus, UserId, merchant_approval,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::clock;
use crate::error::{ApiError, ApiResult, ErrorCode};

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
    let moved = merchant_approval::Entity::update_many()
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
        .filter(merchant_approval::Column::Status.eq(approval.status))
        .exec(db)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the merchant's status changed meanwhile; reload and try again",
        ));
    }
    merchant_approval::Entity::find_by_id(approval.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
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
