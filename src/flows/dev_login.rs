//! The development login: one person made or found, with the operator
//! admin standing, staff roles and household memberships asked for, signed
//! in. It touches users, communities, staff and households, so it is a flow.

use entity::{
    StaffRoleId, TokenFamilyId, VerifiedVia, community, household, operator_admin, staff_role,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};

use crate::auth::jwt::TokenIssuer;
use crate::auth::service::issue_pair;
use crate::auth::views::{DevLogin, TokenPair};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db};
use crate::pii::PiiCipher;

/// Development only: signs in as the person with `login.phone` (made when
/// new, or a new person every time without a phone), with the operator
/// admin standing, staff roles and household memberships asked for, in one
/// transaction. Grants already held are kept as they are.
pub async fn sign_in(
    db: &DatabaseConnection,
    tokens: &TokenIssuer,
    pii: &PiiCipher,
    login: DevLogin,
) -> ApiResult<TokenPair> {
    let txn = db::begin_write(db).await?;
    let existing = match &login.phone {
        Some(p) => crate::user::service::find_by_phone(&txn, pii, p).await?,
        None => None,
    };
    let user = match existing {
        Some(u) => u,
        None => {
            crate::user::service::create(&txn, pii, login.display_name, login.phone.as_ref(), None)
                .await?
        }
    };
    let now = clock::now();
    if login.operator_admin
        && operator_admin::Entity::find_by_id(user.id)
            .one(&txn)
            .await?
            .is_none()
    {
        operator_admin::ActiveModel {
            user_id: Set(user.id),
            granted_by: Set(None),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    for (i, grant) in login.staff_roles.iter().enumerate() {
        if community::Entity::find_by_id(grant.community_id)
            .one(&txn)
            .await?
            .is_none()
        {
            return Err(ApiError::invalid_field(
                &format!("staff_roles[{i}].community_id"),
                "no such community",
            ));
        }
        let held = staff_role::Entity::find()
            .filter(staff_role::Column::CommunityId.eq(grant.community_id))
            .filter(staff_role::Column::UserId.eq(user.id))
            .filter(staff_role::Column::Role.eq(grant.role))
            .count(&txn)
            .await?;
        if held == 0 {
            staff_role::ActiveModel {
                id: Set(StaffRoleId::new()),
                community_id: Set(grant.community_id),
                user_id: Set(user.id),
                role: Set(grant.role),
                granted_by: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    for (i, grant) in login.households.iter().enumerate() {
        let Some(h) = household::Entity::find_by_id(grant.household_id)
            .one(&txn)
            .await?
        else {
            return Err(ApiError::invalid_field(
                &format!("households[{i}].household_id"),
                "no such household",
            ));
        };
        let member = crate::resident::service::add_member(
            &txn,
            crate::resident::service::NewMembership {
                community: h.community_id,
                household: h.id,
                user: user.id,
                role: grant.role,
                tenant_until: grant.tenant_until,
                via: VerifiedVia::Staff,
                verified_by: None,
            },
        )
        .await;
        match member {
            Ok(_) => {}
            Err(e) if e.code == ErrorCode::AlreadyMember => {}
            Err(e) => return Err(e),
        }
    }
    let pair = issue_pair(&txn, tokens, user.id, TokenFamilyId::new()).await?;
    txn.commit().await?;
    Ok(pair)
}
