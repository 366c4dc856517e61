//! The shared store of callbacks already seen (`wechat_callback_seen`),
//! written in batches.
//!
//! Every callback needs one write here, which would make the database the
//! callback's bottleneck (one statement per message). Instead each instance
//! gathers the claims that arrive together and writes them in one statement
//! (`INSERT … ON CONFLICT … RETURNING key`): the database still decides who
//! is first, across all instances; the batch only shares the round trip.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Value};
use tokio::sync::{mpsc, oneshot};

use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::{clock, db as raw};

/// Claims written per statement at most.
const MAX_BATCH: usize = 256;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First delivery: handle it.
    New,
    /// A retry: answer what the first delivery answered (if it has).
    Seen(Option<String>),
}

struct Request {
    key: String,
    reply: Option<String>,
    done: oneshot::Sender<Result<Claim, String>>,
}

#[derive(Clone, Debug)]
pub struct DedupeStore {
    tx: mpsc::Sender<Request>,
}

impl DedupeStore {
    /// Starts the writer task on the current runtime (an error outside one).
    pub fn start(db: DatabaseConnection, ttl: Duration) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow::anyhow!("the callback store needs a Tokio runtime"))?;
        let (tx, rx) = mpsc::channel(4096);
        runtime.spawn(writer(db, ttl, rx));
        Ok(Self { tx })
    }

    /// Claims `key` (or an expired claim of it), storing `reply` with it.
    pub async fn claim(&self, key: String, reply: Option<String>) -> ApiResult<Claim> {
        let (done, answer) = oneshot::channel();
        let unavailable = || {
            ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the callback store is unavailable",
            )
        };
        self.tx
            .send(Request { key, reply, done })
            .await
            .map_err(|_| unavailable())?;
        match answer.await {
            Ok(Ok(claim)) => Ok(claim),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "writing callback keys failed");
                Err(unavailable())
            }
            Err(_) => Err(unavailable()),
        }
    }
}

async fn writer(db: DatabaseConnection, ttl: Duration, mut rx: mpsc::Receiver<Request>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        match write(&db, ttl, &batch).await {
            Ok(outcomes) => {
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.done.send(Ok(outcome));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for request in batch {
                    let _ = request.done.send(Err(message.clone()));
                }
            }
        }
    }
}

/// The batch travels as one JSON parameter, so the statement text is the
/// same for every batch size: it is prepared once per connection, and each
/// batch is a single round trip. Each engine reads JSON its own way; both
/// texts use numbered placeholders (`$1`) for [`raw::query_all`], so the
/// SQLite one reads fields with `->>` (a JSON path would hold a `$`).
fn insert_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "INSERT INTO wechat_callback_seen (key, reply, expires_at) \
             SELECT t.k, t.r, $2 FROM json_to_recordset($1::json) AS t(k text, r text) \
             ON CONFLICT (key) DO UPDATE SET reply = excluded.reply, expires_at = excluded.expires_at \
             WHERE wechat_callback_seen.expires_at < $3 RETURNING key"
        }
        _ => {
            "INSERT INTO wechat_callback_seen (key, reply, expires_at) \
             SELECT value ->> 'k', value ->> 'r', $2 FROM json_each($1) WHERE true \
             ON CONFLICT (key) DO UPDATE SET reply = excluded.reply, expires_at = excluded.expires_at \
             WHERE wechat_callback_seen.expires_at < $3 RETURNING key"
        }
    }
}

fn stored_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => {
            "SELECT key, reply FROM wechat_callback_seen \
             WHERE key IN (SELECT json_array_elements_text($1::json))"
        }
        _ => {
            "SELECT key, reply FROM wechat_callback_seen WHERE key IN (SELECT value FROM json_each($1))"
        }
    }
}

/// Keeps the reply to a claimed callback, so WeChat's retries get it again.
pub async fn remember_reply<C: ConnectionTrait>(db: &C, key: &str, reply: &str) -> ApiResult<()> {
    raw::execute(
        db,
        "UPDATE wechat_callback_seen SET reply = $2 WHERE key = $1",
        [key.into(), reply.into()],
    )
    .await?;
    Ok(())
}

/// Forgets a claim after a failure of ours, so WeChat's next retry may try
/// again. A failure to forget is only logged: the claim expires anyway.
pub async fn release<C: ConnectionTrait>(db: &C, key: &str) {
    let deleted = raw::execute(
        db,
        "DELETE FROM wechat_callback_seen WHERE key = $1",
        [key.into()],
    )
    .await;
    if let Err(e) = deleted {
        tracing::warn!(error = %e, "releasing a callback key failed");
    }
}

/// Writes one batch; returns each request's claim, in order.
async fn write(
    db: &DatabaseConnection,
    ttl: Duration,
    batch: &[Request],
) -> Result<Vec<Claim>, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let now = clock::now();
    let expires = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(10));
    // The same key twice in one batch: the first request stands for both.
    let mut first_of: HashMap<&str, usize> = HashMap::new();
    for (i, r) in batch.iter().enumerate() {
        first_of.entry(r.key.as_str()).or_insert(i);
    }
    let mut unique: Vec<usize> = first_of.values().copied().collect();
    unique.sort_unstable();

    let rows: Vec<serde_json::Value> = unique
        .iter()
        .map(|&i| serde_json::json!({ "k": batch[i].key, "r": batch[i].reply }))
        .collect();
    let values: Vec<Value> = vec![
        serde_json::Value::Array(rows).to_string().into(),
        expires.into(),
        now.into(),
    ];
    let won: std::collections::HashSet<String> = raw::query_all(db, insert_sql(backend), values)
        .await?
        .into_iter()
        .map(|row| row.try_get::<String>("", "key"))
        .collect::<Result<_, _>>()?;

    // What the earlier deliveries answered, for the keys that were not ours.
    let lost: Vec<&str> = unique
        .iter()
        .map(|&i| batch[i].key.as_str())
        .filter(|k| !won.contains(*k))
        .collect();
    let mut stored: HashMap<String, Option<String>> = HashMap::new();
    if !lost.is_empty() {
        let keys = serde_json::Value::from(lost.clone()).to_string();
        let sql = stored_sql(backend);
        let values: Vec<Value> = vec![keys.into()];
        for row in raw::query_all(db, sql, values).await? {
            stored.insert(row.try_get("", "key")?, row.try_get("", "reply")?);
        }
    }
    Ok(batch
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let first = first_of[r.key.as_str()];
            if first == i && won.contains(&r.key) {
                Claim::New
            } else if won.contains(&r.key) {
                // A duplicate of a request in this batch that won.
                Claim::Seen(batch[first].reply.clone())
            } else {
                Claim::Seen(stored.get(&r.key).cloned().flatten())
            }
        })
        .collect())
}
