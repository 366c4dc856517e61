//! The outbox's delivery worker: claims due messages, sends them, records
//! how it went. WeChat's messages it sends itself (or to the sandbox inbox);
//! every other channel goes through the [`ChannelSender`] registered for it
//! at startup (WeChat Pay refunds, merchant transfers), so the queue knows
//! nothing of the capabilities that use it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{
    OutboxChannel, OutboxMessageId, OutboxStatus, SandboxMessageId, outbox_message, sandbox_message,
};
use futures_util::future::BoxFuture;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, Set,
};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::kernel::error::ApiResult;
use crate::kernel::{clock, db};
use crate::wechat::client::{App, WechatClient};
use crate::wechat::error::WechatError;

const RATE_KEY: &str = "outbox:send";

/// Sends the requests of one channel that is not a WeChat message: the
/// payload is the request the business transaction queued.
pub trait ChannelSender: Send + Sync {
    fn send<'a>(
        &'a self,
        db: &'a DatabaseConnection,
        request: &'a Value,
    ) -> BoxFuture<'a, ApiResult<()>>;
}

/// What delivers the outbox: the database, the settings, the WeChat client
/// and a sender per other channel. Cheap to clone.
#[derive(Clone)]
pub struct Worker {
    db: DatabaseConnection,
    settings: Arc<Settings>,
    wechat: WechatClient,
    senders: Arc<HashMap<OutboxChannel, Arc<dyn ChannelSender>>>,
}

impl Worker {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>, wechat: WechatClient) -> Self {
        Self {
            db,
            settings,
            wechat,
            senders: Arc::default(),
        }
    }

    /// Registers the sender of `channel`'s messages (one per channel; a
    /// later one replaces it).
    pub fn with_sender(mut self, channel: OutboxChannel, sender: Arc<dyn ChannelSender>) -> Self {
        Arc::make_mut(&mut self.senders).insert(channel, sender);
        self
    }
}

/// Claims up to `batch_size` due messages (within the global rate), marking
/// each held until `lease` from now. Returns the rows and the lease end,
/// which fences the result: only the claim's holder can record the outcome.
async fn claim(
    worker: &Worker,
) -> Result<(Vec<outbox_message::Model>, DateTime<Utc>), sea_orm::DbErr> {
    let settings = &worker.settings.outbox;
    let now = clock::now();
    let until = now + chrono::Duration::seconds(i64::try_from(settings.lease_secs).unwrap_or(60));
    let txn = db::begin_write(&worker.db).await?;
    let backend = txn.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };

    // The shared rate window (one row, locked for the claim's duration).
    db::execute(
        &txn,
        "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING",
        [RATE_KEY.into(), now.into()],
    )
    .await?;
    let row = db::query_one(
        &txn,
        &format!("SELECT window_start, count FROM rate_limits WHERE key = $1{lock}"),
        [RATE_KEY.into()],
    )
    .await?;
    let (mut window_start, mut used) = match row {
        Some(r) => (
            r.try_get::<DateTime<Utc>>("", "window_start")?,
            r.try_get::<i64>("", "count")?,
        ),
        None => (now, 0),
    };
    if window_start <= now - chrono::Duration::seconds(1) {
        window_start = now;
        used = 0;
    }
    let budget = i64::from(settings.rate_per_sec) - used;
    let take = budget.min(i64::from(settings.batch_size));
    if take <= 0 {
        txn.commit().await?;
        return Ok((Vec::new(), until));
    }
    let skip = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let ids = db::query_all(
        &txn,
        &format!(
            "SELECT id FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND (locked_until IS NULL OR locked_until < $1) \
             ORDER BY next_attempt_at LIMIT $2{skip}"
        ),
        [now.into(), take.into()],
    )
    .await?
    .into_iter()
    .map(|r| r.try_get::<OutboxMessageId>("", "id"))
    .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        txn.commit().await?;
        return Ok((Vec::new(), until));
    }
    outbox_message::Entity::update_many()
        .col_expr(outbox_message::Column::LockedUntil, Expr::value(until))
        .col_expr(
            outbox_message::Column::Attempts,
            sea_orm::sea_query::ExprTrait::add(Expr::col(outbox_message::Column::Attempts), 1),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now))
        .filter(outbox_message::Column::Id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let claimed = i64::try_from(ids.len()).unwrap_or(0);
    db::execute(
        &txn,
        "UPDATE rate_limits SET window_start = $2, count = $3 WHERE key = $1",
        [
            RATE_KEY.into(),
            window_start.into(),
            (used + claimed).into(),
        ],
    )
    .await?;
    let rows = outbox_message::Entity::find()
        .filter(outbox_message::Column::Id.is_in(ids))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((rows, until))
}

/// Sends one message: to WeChat, or to the sandbox inbox, or through the
/// sender registered for its channel.
async fn send(worker: &Worker, m: &outbox_message::Model) -> Result<(), WechatError> {
    let (app, path) = match m.channel {
        OutboxChannel::Template => (App::Service, "/cgi-bin/message/template/send"),
        OutboxChannel::Custom => (App::Service, "/cgi-bin/message/custom/send"),
        OutboxChannel::Subscribe => (App::Mini, "/cgi-bin/message/subscribe/send"),
        channel => {
            let request: Value =
                serde_json::from_str(&m.payload).map_err(|e| WechatError::Decode(e.to_string()))?;
            let Some(sender) = worker.senders.get(&channel) else {
                return Err(WechatError::Transport(format!(
                    "no sender is registered for {channel:?} messages"
                )));
            };
            return sender
                .send(&worker.db, &request)
                .await
                .map_err(|e| WechatError::Transport(e.to_string()));
        }
    };
    if m.app_id.is_empty() || worker.wechat.sandbox(app) {
        let inserted = sandbox_message::ActiveModel {
            id: Set(SandboxMessageId::new()),
            outbox_id: Set(m.id),
            user_id: Set(m.user_id),
            openid: Set(m.openid.clone()),
            kind: Set(m.kind.clone()),
            channel: Set(m.channel),
            summary: Set(m.summary.clone()),
            payload: Set(m.payload.clone()),
            delivered_at: Set(clock::now()),
        }
        .insert(&worker.db)
        .await;
        return match inserted {
            Ok(_) => Ok(()),
            // Already delivered by an earlier claim: delivered once.
            Err(e) if crate::kernel::db::is_unique_violation(&e) => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    let mut payload: Value =
        serde_json::from_str(&m.payload).map_err(|e| WechatError::Decode(e.to_string()))?;
    if m.channel == OutboxChannel::Template {
        // WeChat drops a second template message with the same client_msg_id.
        payload["client_msg_id"] = json!(m.id.to_string());
    }
    worker
        .wechat
        .call(&worker.db, app, Method::POST, path, &[], Some(&payload))
        .await
        .map(|_| ())
}

fn backoff(settings: &crate::config::OutboxSettings, attempts: i32) -> chrono::Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(0);
    let secs = settings
        .backoff_base_secs
        .saturating_mul(1u64 << exp)
        .min(settings.backoff_max_secs);
    chrono::Duration::seconds(i64::try_from(secs).unwrap_or(3600))
}

/// Records how a delivery went, if this worker still holds the claim.
async fn record(
    worker: &Worker,
    m: &outbox_message::Model,
    claim: DateTime<Utc>,
    result: Result<(), WechatError>,
) -> Result<(), sea_orm::DbErr> {
    let now = clock::now();
    let mut update = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now));
    match result {
        Ok(()) => {
            update = update
                .col_expr(
                    outbox_message::Column::Status,
                    Expr::value(OutboxStatus::Sent),
                )
                .col_expr(outbox_message::Column::SentAt, Expr::value(now))
                .col_expr(
                    outbox_message::Column::LastError,
                    Expr::value(Option::<String>::None),
                );
        }
        Err(e) => {
            let give_up = e.is_permanent()
                || u32::try_from(m.attempts).unwrap_or(u32::MAX)
                    >= worker.settings.outbox.max_attempts;
            tracing::warn!(message = %m.id, kind = %m.kind, attempts = m.attempts, give_up, error = %e, "outbox delivery failed");
            update = update.col_expr(
                outbox_message::Column::LastError,
                Expr::value(e.to_string()),
            );
            update = if give_up {
                update.col_expr(
                    outbox_message::Column::Status,
                    Expr::value(OutboxStatus::Failed),
                )
            } else {
                update.col_expr(
                    outbox_message::Column::NextAttemptAt,
                    Expr::value(now + backoff(&worker.settings.outbox, m.attempts)),
                )
            };
        }
    }
    update
        .filter(outbox_message::Column::Id.eq(m.id))
        .filter(outbox_message::Column::LockedUntil.eq(claim))
        .exec(&worker.db)
        .await?;
    Ok(())
}

impl Worker {
    /// One round: claim due messages, deliver them, record the outcomes.
    /// Returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, sea_orm::DbErr> {
        let (rows, claim_until) = claim(self).await?;
        let n = rows.len();
        let sends = rows.into_iter().map(|m| async move {
            // Well inside the claim's lease, so no other worker sends it meanwhile.
            let limit = Duration::from_secs(self.settings.outbox.lease_secs / 2);
            let result = match tokio::time::timeout(limit, send(self, &m)).await {
                Ok(result) => result,
                Err(_) => Err(WechatError::Transport("delivery timed out".into())),
            };
            record(self, &m, claim_until, result).await
        });
        for outcome in futures_util::future::join_all(sends).await {
            outcome?;
        }
        Ok(n)
    }

    /// Removes expired callback de-duplication keys (idempotent, so every
    /// instance may run it).
    async fn sweep_expired(&self) -> Result<(), sea_orm::DbErr> {
        db::execute(
            &self.db,
            "DELETE FROM wechat_callback_seen WHERE expires_at < $1",
            [clock::now().into()],
        )
        .await?;
        Ok(())
    }

    /// The delivery loop: runs until the process ends.
    pub async fn run(self) {
        let idle = Duration::from_millis(self.settings.outbox.poll_interval_ms.max(10));
        let mut last_sweep = std::time::Instant::now();
        loop {
            match self.deliver_due().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "the outbox worker could not claim messages"),
            }
            if last_sweep.elapsed() > Duration::from_secs(60) {
                last_sweep = std::time::Instant::now();
                if let Err(e) = self.sweep_expired().await {
                    tracing::warn!(error = %e, "sweeping callback keys failed");
                }
            }
            tokio::time::sleep(idle).await;
        }
    }
}
