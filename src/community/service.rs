use entity::{CommunityId, StaffRole, StaffRoleId, UserId, community, staff_role};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};

use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;

/// Checked community fields.
pub struct CommunityFields {
    pub name: String,
    pub address: String,
    pub timezone: String,
}

pub fn parse_name(value: &str) -> ApiResult<String> {
    text::required("name", value, 100)
}

pub fn parse_address(value: &str) -> ApiResult<String> {
    text::required("address", value, 255)
}

/// An IANA zone name such as `Asia/Shanghai`.
pub fn parse_timezone(value: &str) -> ApiResult<String> {
    let value = value.trim();
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            ApiError::invalid_field(
                "timezone",
                "must be an IANA time zone such as Asia/Shanghai",
            )
        })
}

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

pub async fn update<C: ConnectionTrait>(
    db: &C,
    current: community::Model,
    name: Option<String>,
    address: Option<String>,
    timezone: Option<String>,
) -> ApiResult<community::Model> {
    let mut model = current.into_active_model();
    if let Some(v) = name {
        model.name = Set(v);
    }
    if let Some(v) = address {
        model.address = Set(v);
    }
    if let Some(v) = timezone {
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

pub async fn find_assignment<C: ConnectionTrait>(
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

/// This instance's short-lived cache of communities, read by the access
/// guard on every community route. A change through this instance applies
/// at once ([`CommunityCache::invalidate`]); through another, within the
/// TTL (`auth.principal_cache_ttl_ms`, like the principal cache; 0 = off).
#[derive(Clone, Debug)]
pub struct CommunityCache {
    cache: crate::kernel::cache::TtlCache<CommunityId, std::sync::Arc<community::Model>>,
}

impl CommunityCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            cache: crate::kernel::cache::TtlCache::new(ttl_ms, 10_000),
        }
    }

    pub async fn get<C: ConnectionTrait>(
        &self,
        db: &C,
        id: CommunityId,
    ) -> ApiResult<Option<std::sync::Arc<community::Model>>> {
        if let Some(hit) = self.cache.get(&id) {
            return Ok(Some(hit));
        }
        let loaded = community::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(std::sync::Arc::new);
        if let Some(c) = &loaded {
            self.cache.insert(id, std::sync::Arc::clone(c));
        }
        Ok(loaded)
    }

    /// Forget `id` after a change to it.
    pub fn invalidate(&self, id: CommunityId) {
        self.cache.invalidate(&id);
    }
}
