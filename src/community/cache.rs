//! The communities the access guard looked up recently, per instance.

use std::sync::Arc;

use entity::{CommunityId, community};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::kernel::cache::TtlCache;
use crate::kernel::error::ApiResult;

/// This instance's short-lived cache of communities, read by the access
/// guard on every community route. A change through this instance applies
/// at once ([`CommunityCache::invalidate`]); through another, within the
/// TTL (`auth.principal_cache_ttl_ms`, like the principal cache; 0 = off).
#[derive(Clone, Debug)]
pub struct CommunityCache {
    cache: TtlCache<CommunityId, Arc<community::Model>>,
}

impl CommunityCache {
    pub fn new(ttl_ms: u64) -> Self {
        Self {
            cache: TtlCache::new(ttl_ms, 10_000),
        }
    }

    pub async fn get<C: ConnectionTrait>(
        &self,
        db: &C,
        id: CommunityId,
    ) -> ApiResult<Option<Arc<community::Model>>> {
        if let Some(hit) = self.cache.get(&id) {
            return Ok(Some(hit));
        }
        let loaded = community::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(Arc::new);
        if let Some(c) = &loaded {
            self.cache.insert(id, Arc::clone(c));
        }
        Ok(loaded)
    }

    /// Forget `id` after a change to it.
    pub fn invalidate(&self, id: CommunityId) {
        self.cache.invalidate(&id);
    }
}
