//! Fixed-window counters kept in the database, so every instance behind the
//! load balancer sees the same count (no per-process state).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::kernel::{clock, db as raw};

/// Seconds until the window that has reached `limit` for `key` ends, or
/// `None` while attempts remain.
pub async fn blocked_for<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<u64>, DbErr> {
    let row = raw::query_one(
        db,
        "SELECT window_start, count FROM rate_limits WHERE key = $1",
        [key.into()],
    )
    .await?;
    let Some(row) = row else { return Ok(None) };
    let start: DateTime<Utc> = row.try_get("", "window_start")?;
    let count: i64 = row.try_get("", "count")?;
    let ends = start + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let now = clock::now();
    if count >= i64::from(limit) && ends > now {
        let secs = (ends - now).num_seconds().max(1);
        Ok(Some(u64::try_from(secs).unwrap_or(1)))
    } else {
        Ok(None)
    }
}

/// Counts one attempt against `key`, starting a new window if the last one
/// has ended. One atomic upsert: correct with any number of instances.
pub async fn record<C: ConnectionTrait>(db: &C, key: &str, window: Duration) -> Result<(), DbErr> {
    let now = clock::now();
    let cutoff = now - chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    raw::execute(
        db,
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN rate_limits.window_start <= $3 THEN 1 ELSE rate_limits.count + 1 END, \
           window_start = CASE WHEN rate_limits.window_start <= $3 THEN $2 ELSE rate_limits.window_start END",
        [key.into(), now.into(), cutoff.into()],
    )
    .await?;
    Ok(())
}

/// Counts one attempt against `key` first, then answers whether it is over
/// `limit`: with the count taken atomically, parallel attempts cannot all
/// slip under the limit before any of them is recorded.
pub async fn hit<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<u64>, DbErr> {
    record(db, key, window).await?;
    blocked_after(db, key, limit, window).await
}

/// Like [`blocked_for`] but refusing only beyond `limit` (the attempt being
/// judged is already counted).
async fn blocked_after<C: ConnectionTrait>(
    db: &C,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<u64>, DbErr> {
    blocked_for(db, key, limit.saturating_add(1), window).await
}

/// Forgets `key` (after a successful login, say).
pub async fn clear<C: ConnectionTrait>(db: &C, key: &str) -> Result<(), DbErr> {
    raw::execute(db, "DELETE FROM rate_limits WHERE key = $1", [key.into()]).await?;
    Ok(())
}
