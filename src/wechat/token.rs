//! Shared credentials (the access_token of each app, the JS-SDK
//! jsapi_ticket): one copy in the database for every instance, refreshed
//! ahead of expiry by whichever instance holds the row's lease. Refreshing
//! from two places at once would invalidate one of the copies, so nobody
//! refreshes without the lease; the others keep using the current value (or,
//! when there is none, wait for the holder).
//!
//! A value is due for a refresh when it is missing, revoked, expired, or
//! within the margin of expiry and not yet refreshed inside that margin.
//! (`stable_token` in normal mode returns the same token until it expires,
//! with its remaining lifetime; asking once inside the margin is enough.)
//! Only a value WeChat called invalid (40001, 40014) is refreshed with
//! `force_refresh`, which WeChat limits per day.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::DatabaseConnection;

use super::error::WechatError;
use crate::kernel::{clock, db as raw};

/// How long one holder may take to refresh before another may try.
const LEASE: chrono::Duration = chrono::Duration::seconds(20);
/// A fetch is abandoned well before its lease ends.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a caller without a usable value checks for the holder's result.
const WAIT_STEP: Duration = Duration::from_millis(25);

/// `expires_at` of a value WeChat called invalid: refresh it with `force_refresh`.
fn revoked_marker() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[derive(Default)]
struct Row {
    value: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    refreshed_at: Option<DateTime<Utc>>,
}

impl Row {
    fn usable(&self, now: DateTime<Utc>) -> Option<&str> {
        match (&self.value, self.expires_at) {
            (Some(v), Some(e)) if e > now => Some(v),
            _ => None,
        }
    }

    fn due(&self, now: DateTime<Utc>, margin: chrono::Duration) -> bool {
        match (&self.value, self.expires_at) {
            (Some(_), Some(e)) if e > now => {
                e - margin <= now && self.refreshed_at.is_none_or(|r| r < e - margin)
            }
            _ => true,
        }
    }
}

async fn read(db: &DatabaseConnection, name: &str) -> Result<Option<Row>, WechatError> {
    let row = raw::query_one(
        db,
        "SELECT value, expires_at, refreshed_at FROM wechat_credentials WHERE name = $1",
        [name.into()],
    )
    .await?;
    Ok(match row {
        Some(r) => Some(Row {
            value: r.try_get("", "value")?,
            expires_at: r.try_get("", "expires_at")?,
            refreshed_at: r.try_get("", "refreshed_at")?,
        }),
        None => None,
    })
}

/// Returns the shared value of `name`, refreshing it through `fetch` (given
/// whether WeChat called the old value invalid, and returning the new value
/// and its lifetime in seconds) when it is due.
pub async fn get<F, Fut>(
    db: &DatabaseConnection,
    name: &str,
    margin: Duration,
    fetch: F,
) -> Result<String, WechatError>
where
    F: FnOnce(bool) -> Fut,
    Fut: std::future::Future<Output = Result<(String, i64), WechatError>>,
{
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::zero());
    let deadline = clock::now() + LEASE + LEASE;
    loop {
        let now = clock::now();
        let row = read(db, name).await?;
        if row.is_none() {
            raw::execute(
                db,
                "INSERT INTO wechat_credentials (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                [name.into()],
            )
            .await?;
        }
        let row = row.unwrap_or_default();
        if !row.due(now, margin)
            && let Some(v) = row.usable(now)
        {
            return Ok(v.to_owned());
        }
        // Due: only the lease holder refreshes. The lease's end is the
        // holder's fence: its result is written only while it still holds it.
        let mine = now + LEASE;
        let took = raw::execute(
            db,
            "UPDATE wechat_credentials SET lease_until = $2 \
             WHERE name = $1 AND (lease_until IS NULL OR lease_until < $3)",
            [name.into(), mine.into(), now.into()],
        )
        .await?
        .rows_affected()
            == 1;
        if took {
            // Someone may have finished a refresh between our read and the lease.
            let fresh = read(db, name).await?.unwrap_or_default();
            let now = clock::now();
            if !fresh.due(now, margin)
                && let Some(v) = fresh.usable(now)
            {
                release(db, name, mine).await?;
                return Ok(v.to_owned());
            }
            let revoked = fresh.expires_at == Some(revoked_marker());
            let result = match tokio::time::timeout(FETCH_TIMEOUT, fetch(revoked)).await {
                Ok(result) => result,
                Err(_) => Err(WechatError::Transport(format!(
                    "refreshing {name} timed out"
                ))),
            };
            return match result {
                Ok((new_value, expires_in)) => {
                    let now = clock::now();
                    let expires_at = now + chrono::Duration::seconds(expires_in.max(0));
                    let stored = raw::execute(
                        db,
                        "UPDATE wechat_credentials SET value = $2, expires_at = $3, \
                         lease_until = NULL, refreshed_at = $4 WHERE name = $1 AND lease_until = $5",
                        [
                            name.into(),
                            new_value.clone().into(),
                            expires_at.into(),
                            now.into(),
                            mine.into(),
                        ],
                    )
                    .await?
                    .rows_affected();
                    if stored == 1 {
                        tracing::info!(
                            credential = name,
                            expires_in,
                            "refreshed a shared WeChat credential"
                        );
                    } else {
                        tracing::warn!(
                            credential = name,
                            "a refresh outlived its lease; its result was not stored"
                        );
                    }
                    Ok(new_value)
                }
                Err(e) => {
                    release(db, name, mine).await?;
                    Err(e)
                }
            };
        }
        // Another holder is refreshing. A value that still works is used meanwhile.
        if let Some(v) = row.usable(now) {
            return Ok(v.to_owned());
        }
        if clock::now() > deadline {
            return Err(WechatError::Transport(format!(
                "timed out waiting for another instance to refresh {name}"
            )));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

async fn release(
    db: &DatabaseConnection,
    name: &str,
    mine: DateTime<Utc>,
) -> Result<(), WechatError> {
    raw::execute(
        db,
        "UPDATE wechat_credentials SET lease_until = NULL WHERE name = $1 AND lease_until = $2",
        [name.into(), mine.into()],
    )
    .await?;
    Ok(())
}

/// Marks `value` as refused by WeChat so the next caller refreshes it:
/// `invalid` (40001, 40014) forces a new token; otherwise (42001, expired)
/// a normal refresh suffices. Only that exact value is revoked: when many
/// callers saw the same refusal, one refreshes and the rest get the new value.
pub async fn revoke(
    db: &DatabaseConnection,
    name: &str,
    value: &str,
    invalid: bool,
) -> Result<(), WechatError> {
    let expires_at = if invalid {
        revoked_marker()
    } else {
        clock::now()
    };
    raw::execute(
        db,
        "UPDATE wechat_credentials SET expires_at = $3 WHERE name = $1 AND value = $2",
        [name.into(), value.into(), expires_at.into()],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_inside_the_margin_is_refreshed_once_then_used_until_it_expires() {
        let now = clock::now();
        let margin = chrono::Duration::seconds(300);
        let fresh = Row {
            value: Some("t".into()),
            expires_at: Some(now + chrono::Duration::seconds(7200)),
            refreshed_at: Some(now),
        };
        assert!(!fresh.due(now, margin));
        let ageing = Row {
            value: Some("t".into()),
            expires_at: Some(now + chrono::Duration::seconds(200)),
            refreshed_at: Some(now - chrono::Duration::seconds(7000)),
        };
        assert!(ageing.due(now, margin), "inside the margin, not yet asked");
        let asked = Row {
            refreshed_at: Some(now),
            ..ageing
        };
        assert!(
            !asked.due(now, margin),
            "asked inside the margin: WeChat keeps the same token"
        );
        assert_eq!(asked.usable(now), Some("t"));
        let expired = Row {
            expires_at: Some(now - chrono::Duration::seconds(1)),
            ..asked
        };
        assert!(expired.due(now, margin));
        assert_eq!(expired.usable(now), None);
    }
}
