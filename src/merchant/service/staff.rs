//! A merchant's staff: its owners and the accounts they add (店员), found
//! by phone number or created for the person.

use entity::{MerchantId, MerchantRole, MerchantStaffId, UserId, merchant_staff, user};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

use super::add_staff_row;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::merchant::views::{MerchantStaffMember, StaffInvite};
use crate::pii::PiiCipher;

/// The merchant's staff, in the order they joined.
pub async fn list(
    db: &DatabaseConnection,
    merchant: MerchantId,
) -> ApiResult<Vec<MerchantStaffMember>> {
    let rows = merchant_staff::Entity::find()
        .filter(merchant_staff::Column::MerchantId.eq(merchant))
        .find_also_related(user::Entity)
        .order_by_asc(merchant_staff::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, u)| {
            let u = u?;
            Some(MerchantStaffMember {
                id: s.id,
                user_id: u.id,
                display_name: u.display_name,
                phone: u.phone_masked,
                role: s.role,
                since: s.created_at,
            })
        })
        .collect())
}

/// Adds the person with the invite's phone number to the merchant's staff,
/// creating their account if they have none.
pub async fn add(
    db: &DatabaseConnection,
    pii: &PiiCipher,
    merchant: MerchantId,
    invite: StaffInvite,
) -> ApiResult<MerchantStaffMember> {
    let txn = begin_write(db).await?;
    let person = match crate::user::service::find_by_phone(&txn, pii, &invite.phone).await? {
        Some(u) => u,
        None => {
            crate::user::service::create(&txn, pii, invite.display_name, Some(&invite.phone), None)
                .await?
        }
    };
    let row = add_staff_row(&txn, merchant, person.id, MerchantRole::Staff).await?;
    txn.commit().await?;
    Ok(MerchantStaffMember {
        id: row.id,
        user_id: person.id,
        display_name: person.display_name,
        phone: person.phone_masked,
        role: row.role,
        since: row.created_at,
    })
}

/// Removes a staff account (owners stay). Returns the person removed.
pub async fn remove(
    db: &DatabaseConnection,
    merchant: MerchantId,
    id: MerchantStaffId,
) -> ApiResult<UserId> {
    let row = merchant_staff::Entity::find_by_id(id)
        .filter(merchant_staff::Column::MerchantId.eq(merchant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if row.role == MerchantRole::Owner {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "owners cannot be removed here",
        ));
    }
    merchant_staff::Entity::delete_by_id(row.id)
        .exec(db)
        .await?;
    Ok(row.user_id)
}
