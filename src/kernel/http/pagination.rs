//! Cursor pagination: `?limit=&cursor=` in, `{items, next_cursor}` out. The
//! cursor is the last item's id (UUIDv7, so creation order), opaque to clients.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::kernel::error::{ApiError, ErrorCode};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Uuid>,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "this cursor was not issued by this API",
                )
            })?),
        };
        Ok(PageRequest { limit, after })
    }
}

fn decode_cursor(cursor: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    Uuid::from_slice(&bytes).ok()
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl PageRequest {
    /// Fetches one page of `select`, ordered by the UUIDv7 key `id_column`.
    pub async fn fetch<E, C, K>(
        &self,
        select: Select<E>,
        id_column: E::Column,
        id_of: K,
        db: &C,
    ) -> Result<Page<E::Model>, sea_orm::DbErr>
    where
        E: EntityTrait,
        C: sea_orm::ConnectionTrait,
        K: Fn(&E::Model) -> Uuid,
    {
        let mut select = select.order_by_asc(id_column);
        if let Some(after) = self.after {
            select = select.filter(id_column.gt(after));
        }
        let mut items = select.limit(self.limit + 1).all(db).await?;
        let next_cursor = if items.len() as u64 > self.limit {
            items.truncate(self.limit as usize);
            items.last().map(|m| encode_cursor(id_of(m)))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
