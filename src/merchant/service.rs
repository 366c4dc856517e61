use chrono::{DateTime, Utc};
use entity::merchant::Categories;
use entity::{
    CommunityId, LocationKind, MerchantApprovalId, MerchantId, MerchantRole, MerchantStaffId,
    MerchantStatus, UserId, community, merchant, merchant_approval, merchant_staff,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, text};
use crate::pii::{PiiCipher, seal_id_number, seal_phone};

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchant {
    pub shop_name: String,
    /// What the merchant sells or does (经营范围).
    pub business_scope: String,
    /// E.g. `["食", "生活服务"]`.
    pub categories: Vec<String>,
    pub location_kind: LocationKind,
    /// The shop's address, or the home seller's household address.
    pub address: String,
    pub contact_phone: String,
    /// The owner's legal name and resident ID number (verified by the property).
    pub owner_name: String,
    pub owner_id_number: String,
    /// The communities to serve: each one's staff verify the merchant there.
    pub community_ids: Vec<CommunityId>,
}

/// Creates a merchant owned by `owner`, applying to each named community.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
    body: NewMerchant,
    owner: UserId,
) -> ApiResult<(merchant::Model, Vec<merchant_approval::Model>)> {
    let shop_name = text::required("shop_name", &body.shop_name, 100)?;
    let scope = text::required("business_scope", &body.business_scope, 500)?;
    let categories = parse_categories(body.categories)?;
    let address = text::required("address", &body.address, 200)?;
    let owner_name = text::required("owner_name", &body.owner_name, 64)?;
    let phone = seal_phone(pii, "contact_phone", &body.contact_phone)?;
    let id = seal_id_number(pii, "owner_id_number", &body.owner_id_number)?;
    if body.community_ids.is_empty() {
        return Err(ApiError::invalid_field(
            "community_ids",
            "name at least one community",
        ));
    }
    for (i, c) in body.community_ids.iter().enumerate() {
        if community::Entity::find_by_id(*c).one(db).await?.is_none() {
            return Err(ApiError::invalid_field(
                &format!("community_ids[{i}]"),
                "no such community",
            ));
        }
    }
    let now = clock::now();
    let created = merchant::ActiveModel {
        id: Set(MerchantId::new()),
        shop_name: Set(shop_name),
        business_scope: Set(scope),
        categories: Set(categories),
        location_kind: Set(body.location_kind),
        address: Set(address),
        contact_phone_hash: Set(phone.hash),
        contact_phone_enc: Set(phone.enc),
        contact_phone_masked: Set(phone.masked),
        owner_name: Set(owner_name),
        owner_id_hash: Set(id.hash),
        owner_id_enc: Set(id.enc),
        owner_id_masked: Set(id.masked),
        created_by: Set(owner),
        commission_bp: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    add_staff_row(db, created.id, owner, MerchantRole::Owner).await?;
    let mut approvals = Vec::new();
    let mut seen = Vec::new();
    for c in body.community_ids {
        if !seen.contains(&c) {
            seen.push(c);
            approvals.push(apply(db, created.id, c).await?);
        }
    }
    Ok((created, approvals))
}

pub async fn add_staff_row<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    user: UserId,
    role: MerchantRole,
) -> ApiResult<merchant_staff::Model> {
    Ok(merchant_staff::ActiveModel {
        id: Set(MerchantStaffId::new()),
        merchant_id: Set(merchant),
        user_id: Set(user),
        role: Set(role),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

pub fn parse_categories(values: Vec<String>) -> ApiResult<Categories> {
    if values.is_empty() || values.len() > 10 {
        return Err(ApiError::invalid_field(
            "categories",
            "give 1 to 10 categories",
        ));
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let c = text::required("categories", &v, 20)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(Categories(out))
}

/// Refuses unless the merchant may sell in the community now (verified
/// there and not expired or suspended).
pub async fn ensure_selling<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    community: CommunityId,
) -> ApiResult<()> {
    let now = crate::kernel::clock::now();
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
