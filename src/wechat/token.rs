//! Shared credentials (the access_token of each app, the JS-SDK
//! jsapi_ticket): one copy in the database for every instance, refreshed
//! ahead of expiry by whichever instance holds the row's lease. Refreshing
//! from two places at once would invalidate one of the copies, so nobody
//! refreshes without the lease; the others keep using the current value (or,
//! when there is none, wait for the holder).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use super::client::WechatError;
use crate::clock;

/// How long one holder may take to refresh before another may try.
const LEASE: chrono::Duration = chrono::Duration::seconds(20);
/// How often a caller without a usable value checks for the holder's result.
const WAIT_STEP: Duration = Duration::from_millis(25);

/// `expires_at` of a value WeChat rejected: refresh it with `force_refresh`.
fn revoked_marker() -> DateTime<Utc> {
    Utc.timestamp_opt(0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn sql(backend: DbBackend, postgres: &str) -> String {
    match backend {
        DbBackend::Postgres => postgres.to_owned(),
        _ => postgres.replace('$', "?"),
    }
}

struct Row {
    value: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

async fn read(db: &DatabaseConnection, name: &str) -> Result<Option<Row>, WechatError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT value, expires_at FROM wechat_credentials WHERE name = $1",
            ),
            [name.into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => Some(Row {
            value: r.try_get("", "value")?,
            expires_at: r.try_get("", "expires_at")?,
        }),
        None => None,
    })
}

/// Returns the shared value of `name`, refreshing it through `fetch` (given
/// whether WeChat revoked the old value, and returning the new value and its
/// lifetime in seconds) when it is missing, revoked or within `margin` of
/// expiring.
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
    let backend = db.get_database_backend();
    let deadline = clock::now() + LEASE + LEASE;
    loop {
        let now = clock::now();
        let row = read(db, name).await?;
        let (value, expires_at) = match &row {
            Some(r) => (r.value.clone(), r.expires_at),
            None => (None, None),
        };
        let usable = matches!((&value, expires_at), (Some(_), Some(e)) if e > now);
        if let (Some(v), Some(e)) = (&value, expires_at)
            && e - margin > now
        {
            return Ok(v.clone());
        }
        // Due for a refresh: only the lease holder does it.
        if row.is_none() {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "INSERT INTO wechat_credentials (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                ),
                [name.into()],
            ))
            .await?;
        }
        let took = db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "UPDATE wechat_credentials SET lease_until = $2 \
                     WHERE name = $1 AND (lease_until IS NULL OR lease_until < $3)",
                ),
                [name.into(), (now + LEASE).into(), now.into()],
            ))
            .await?
            .rows_affected()
            == 1;
        if took {
            // Someone may have finished a refresh between our read and the lease.
            if let Some(fresh) = read(db, name).await?
                && let (Some(v), Some(e)) = (fresh.value, fresh.expires_at)
                && e - margin > clock::now()
            {
                release(db, name).await?;
                return Ok(v);
            }
            let revoked = expires_at == Some(revoked_marker());
            let result = fetch(revoked).await;
            return match result {
                Ok((new_value, expires_in)) => {
                    let now = clock::now();
                    let expires_at = now + chrono::Duration::seconds(expires_in.max(60));
                    db.execute_raw(Statement::from_sql_and_values(
                        backend,
                        sql(
                            backend,
                            "UPDATE wechat_credentials SET value = $2, expires_at = $3, \
                             lease_until = NULL, refreshed_at = $4 WHERE name = $1",
                        ),
                        [
                            name.into(),
                            new_value.clone().into(),
                            expires_at.into(),
                            now.into(),
                        ],
                    ))
                    .await?;
                    tracing::info!(
                        credential = name,
                        expires_in,
                        "refreshed a shared WeChat credential"
                    );
                    Ok(new_value)
                }
                Err(e) => {
                    release(db, name).await?;
                    Err(e)
                }
            };
        }
        // Another holder is refreshing. A value that still works is used meanwhile.
        if usable && let Some(v) = value {
            return Ok(v);
        }
        if clock::now() > deadline {
            return Err(WechatError::Transport(format!(
                "timed out waiting for another instance to refresh {name}"
            )));
        }
        tokio::time::sleep(WAIT_STEP).await;
    }
}

async fn release(db: &DatabaseConnection, name: &str) -> Result<(), WechatError> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE wechat_credentials SET lease_until = NULL WHERE name = $1",
        ),
        [name.into()],
    ))
    .await?;
    Ok(())
}

/// Marks `value` as rejected by WeChat so the next caller refreshes it (with
/// `force_refresh`). Only that exact value is revoked: when many callers saw
/// the same rejection, the first revokes it, one refreshes, and the rest get
/// the new value.
pub async fn revoke(db: &DatabaseConnection, name: &str, value: &str) -> Result<(), WechatError> {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE wechat_credentials SET expires_at = $3 WHERE name = $1 AND value = $2",
        ),
        [name.into(), value.into(), revoked_marker().into()],
    ))
    .await?;
    Ok(())
}
