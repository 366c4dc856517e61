//! The rules of communities and their staff: who sees which community, and
//! how staff roles are granted and withdrawn.

use std::collections::HashMap;

use entity::{CommunityId, StaffRole, StaffRoleId, UserId, community, staff_role, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};

use crate::auth::password::{self, Password};
use crate::kernel::clock;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::pii::{PhoneNumber, PiiCipher};
use crate::user::service as users;

/// Checked community fields.
pub struct CommunityFields {
    pub name: String,
    pub address: String,
    pub timezone: String,
}

/// Checked changes to a community: each field present is replaced.
pub struct CommunityChangeSet {
    pub name: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
}

/// A checked request to grant a staff role to the person with `phone`.
pub struct StaffGrant {
    pub phone: PhoneNumber,
    /// Used only when the person is new.
    pub display_name: String,
    pub role: StaffRole,
    /// Required when the person is new, ignored otherwise.
    pub initial_password: Option<Password>,
}

/// Adds a community (409 if the name is taken).
pub async fn create<C: ConnectionTrait>(
    db: &C,
    fields: CommunityFields,
) -> ApiResult<community::Model> {
    let now = clock::now();
    Ok(community::ActiveModel {
        id: Set(CommunityId::new()),
        name: Set(fields.name),
        address: Set(fields.address),
        timezone: Set(fields.timezone),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// Communities `user` can see: all of them for an operator admin,
/// otherwise those where they hold a staff role.
pub async fn visible<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    is_operator_admin: bool,
    page: PageRequest,
) -> ApiResult<Page<community::Model>> {
    let mut select = community::Entity::find();
    if !is_operator_admin {
        let mine: Vec<CommunityId> = staff_role::Entity::find()
            .select_only()
            .column(staff_role::Column::CommunityId)
            .filter(staff_role::Column::UserId.eq(user))
            .distinct()
            .into_tuple()
            .all(db)
            .await?;
        select = select.filter(community::Column::Id.is_in(mine));
    }
    Ok(page
        .fetch(select, community::Column::Id, |m| m.id.as_uuid(), db)
        .await?)
}

/// Changes a community's name, address or time zone (409 if the new name
/// is taken).
pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: community::Model,
    changes: CommunityChangeSet,
) -> ApiResult<community::Model> {
    let mut model = current.into_active_model();
    if let Some(v) = changes.name {
        model.name = Set(v);
    }
    if let Some(v) = changes.address {
        model.address = Set(v);
    }
    if let Some(v) = changes.timezone {
        model.timezone = Set(v);
    }
    model.updated_at = Set(clock::now());
    Ok(model.update(db).await?)
}

/// Grants `role` in `community` to `user` (409 `role_already_granted` if held).
pub async fn grant_role<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    user: UserId,
    role: StaffRole,
    granted_by: Option<UserId>,
) -> ApiResult<staff_role::Model> {
    Ok(staff_role::ActiveModel {
        id: Set(StaffRoleId::new()),
        community_id: Set(community),
        user_id: Set(user),
        role: Set(role),
        granted_by: Set(granted_by),
        created_at: Set(clock::now()),
    }
    .insert(db)
    .await?)
}

/// One page of the community's staff roles, each with its holder.
pub async fn staff<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    page: PageRequest,
) -> ApiResult<Page<(staff_role::Model, user::Model)>> {
    let select = staff_role::Entity::find().filter(staff_role::Column::CommunityId.eq(community));
    let page = page
        .fetch(select, staff_role::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    let holders: HashMap<UserId, user::Model> = user::Entity::find()
        .filter(user::Column::Id.is_in(page.items.iter().map(|a| a.user_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let items = page
        .items
        .into_iter()
        .filter_map(|a| {
            let holder = holders.get(&a.user_id)?.clone();
            Some((a, holder))
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// Grants a staff role in `community` to the person with the grant's phone
/// number, creating their account (with the initial password) if the number
/// is new. Returns the role and its holder.
pub async fn add_staff<C>(
    db: &C,
    pii: &PiiCipher,
    community: CommunityId,
    grant: StaffGrant,
    granted_by: UserId,
) -> ApiResult<(staff_role::Model, user::Model)>
where
    C: ConnectionTrait + TransactionTrait<Transaction = DatabaseTransaction>,
{
    let existing = users::find_by_phone(db, pii, &grant.phone).await?;
    // Hash before the transaction: argon2 takes a while, and a write
    // transaction should not wait on it.
    let new_hash = match (&existing, grant.initial_password) {
        (Some(_), _) => None,
        (None, Some(p)) => Some(password::hash(p).await?),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "initial_password",
                "required for a new staff member",
            ));
        }
    };
    let txn = db::begin_write(db).await?;
    let holder = match existing {
        Some(u) => u,
        None => users::create(&txn, pii, grant.display_name, Some(&grant.phone), new_hash).await?,
    };
    let assignment = grant_role(&txn, community, holder.id, grant.role, Some(granted_by)).await?;
    txn.commit().await?;
    Ok((assignment, holder))
}

/// Withdraws a staff role of `community`. Managers cannot withdraw their
/// own manager role (an operator admin can), so a community is never left
/// without one by accident. Returns the withdrawn role.
pub async fn remove_staff<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: StaffRoleId,
    by: UserId,
    by_operator_admin: bool,
) -> ApiResult<staff_role::Model> {
    let assignment = find_assignment(db, community, id).await?;
    if assignment.user_id == by && assignment.role == StaffRole::Manager && !by_operator_admin {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "you cannot withdraw your own manager role",
        ));
    }
    staff_role::Entity::delete_by_id(assignment.id)
        .exec(db)
        .await?;
    Ok(assignment)
}

async fn find_assignment<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: StaffRoleId,
) -> ApiResult<staff_role::Model> {
    staff_role::Entity::find_by_id(id)
        .filter(staff_role::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}
