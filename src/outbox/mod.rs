//! The persistent outbox for outbound WeChat messages (template, subscribe
//! and customer-service messages).
//!
//! - [`notify`] writes a message in the caller's transaction, so it exists
//!   exactly when the change that caused it does.
//! - The worker ([`run_worker`]) claims due rows in short transactions
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), so
//!   any number of instances deliver without taking the same row; a claim is
//!   a lease, so a crashed worker's rows are retried after `outbox.lease_secs`.
//! - Transient failures retry with exponential backoff; permanent ones (the
//!   person refused, the template is gone) fail at once. A global rate limit
//!   (`outbox.rate_per_sec`, counted in the database) spans all instances.
//! - In sandbox mode nothing goes to WeChat: messages land in the sandbox
//!   inbox (`GET /api/v1/dev/sandbox/inbox`).
//! - WeChat Pay refund requests ([`pay_refund`]) and merchants' payouts by
//!   WeChat transfer ([`pay_transfer`]) travel the same way: decided
//!   in the business transaction, sent (and retried) by the worker, so a
//!   crash between deciding and calling never loses one.

pub mod routes;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{
    OutboxChannel, OutboxMessageId, OutboxStatus, SandboxMessageId, UserId, outbox_message,
    sandbox_message,
};
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Set,
    Statement,
};
use serde_json::{Map, Value, json};

use crate::config::Settings;
use crate::kernel::db::sql;
use crate::kernel::error::ApiResult;
use crate::kernel::{clock, db};
use crate::state::AppState;
use crate::wechat::client::App;
use crate::wechat::error::WechatError;
use crate::wechat::identity;

const RATE_KEY: &str = "outbox:send";

/// Fills `{name}` placeholders from `params` (unknown names stay as written).
pub fn render(template: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if params.contains_key(&after[..close]) => {
                out.push_str(&params[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// WeChat's length limits per template field type (by the key's prefix).
fn fit(key: &str, value: String) -> String {
    let limit = [
        ("thing", 20),
        ("phrase", 5),
        ("name", 10),
        ("character_string", 32),
        ("number", 32),
        ("letter", 32),
        ("car_number", 8),
    ]
    .iter()
    .find(|(prefix, _)| key.starts_with(prefix))
    .map(|(_, n)| *n);
    match limit {
        Some(n) if value.chars().count() > n => value.chars().take(n).collect(),
        _ => value,
    }
}

fn data(fields: &BTreeMap<String, String>, params: &BTreeMap<String, String>) -> Value {
    let mut data = Map::new();
    for (key, template) in fields {
        data.insert(
            key.clone(),
            json!({ "value": fit(key, render(template, params)) }),
        );
    }
    Value::Object(data)
}

/// A message to write.
struct NewMessage {
    kind: String,
    channel: OutboxChannel,
    user_id: Option<UserId>,
    app_id: String,
    openid: Option<String>,
    payload: Value,
    summary: String,
    failed: Option<String>,
}

/// Queues message `kind` for `user_id`, in the caller's transaction. The
/// channel is the mini-program's subscribe message when the person uses the
/// mini-program and the kind has a subscribe template, else the service
/// account's template message. A kind that cannot reach the person is
/// recorded as failed with the reason (so operators see it), not dropped.
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    user_id: UserId,
    kind: &str,
    params: &[(&str, String)],
) -> ApiResult<()> {
    let params: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let Some(spec) = settings.messages.get(kind) else {
        tracing::error!(
            kind,
            "no [messages.{kind}] in the configuration; message not queued"
        );
        return Ok(());
    };
    let summary = render(&spec.text, &params);
    let mp = &settings.miniprogram;
    let sa = &settings.wechat;
    let mini_openid = match mp.sandbox() {
        true => None,
        false => identity::openid_of(db, user_id, &mp.app_id).await?,
    };
    let service_openid = match sa.sandbox() {
        true => None,
        false => identity::openid_of(db, user_id, &sa.app_id).await?,
    };
    let page = spec.page.clone();
    let message = if let (Some(openid), false) =
        (&mini_openid, spec.subscribe_template_id.is_empty())
    {
        NewMessage {
            kind: kind.to_owned(),
            channel: OutboxChannel::Subscribe,
            user_id: Some(user_id),
            app_id: mp.app_id.clone(),
            openid: Some(openid.clone()),
            payload: json!({
                "touser": openid,
                "template_id": spec.subscribe_template_id,
                "page": page,
                "data": data(&spec.subscribe_fields, &params),
                "lang": "zh_CN",
            }),
            summary,
            failed: None,
        }
    } else if let (Some(openid), false) = (&service_openid, spec.template_id.is_empty()) {
        let mut payload = json!({
            "touser": openid,
            "template_id": spec.template_id,
            "url": format!("{}/{}", sa.h5_base_url.trim_end_matches('/'), page.trim_start_matches('/')),
            "data": data(&spec.template_fields, &params),
        });
        if !mp.sandbox() && !page.is_empty() {
            payload["miniprogram"] = json!({ "appid": mp.app_id, "pagepath": page });
        }
        NewMessage {
            kind: kind.to_owned(),
            channel: OutboxChannel::Template,
            user_id: Some(user_id),
            app_id: sa.app_id.clone(),
            openid: Some(openid.clone()),
            payload,
            summary,
            failed: None,
        }
    } else if sa.sandbox() && mp.sandbox() {
        // No WeChat app configured at all: the sandbox inbox stands in.
        NewMessage {
            kind: kind.to_owned(),
            channel: OutboxChannel::Template,
            user_id: Some(user_id),
            app_id: String::new(),
            openid: None,
            payload: json!({
                "template_id": spec.template_id,
                "page": page,
                "data": data(&spec.template_fields, &params),
            }),
            summary,
            failed: None,
        }
    } else {
        let reason = if mini_openid.is_none() && service_openid.is_none() {
            "the person has no WeChat identity to send to".to_owned()
        } else {
            format!("no template configured for [messages.{kind}] on the person's app")
        };
        NewMessage {
            kind: kind.to_owned(),
            channel: OutboxChannel::Template,
            user_id: Some(user_id),
            app_id: sa.app_id.clone(),
            openid: service_openid.or(mini_openid),
            payload: Value::Null,
            summary,
            failed: Some(reason),
        }
    };
    insert(db, message).await
}

/// Queues a customer-service text message (e.g. the late answer to a
/// callback that needed more than WeChat's 5 seconds).
pub async fn custom_text<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    openid: &str,
    user_id: Option<UserId>,
    text: &str,
) -> ApiResult<()> {
    insert(
        db,
        NewMessage {
            kind: "reply".to_owned(),
            channel: OutboxChannel::Custom,
            user_id,
            app_id: settings.wechat.app_id.clone(),
            openid: Some(openid.to_owned()),
            payload: json!({ "touser": openid, "msgtype": "text", "text": { "content": text } }),
            summary: text.to_owned(),
            failed: None,
        },
    )
    .await
}

/// Queues a WeChat Pay refund request (the body of
/// `/v3/refund/domestic/refunds`), in the caller's transaction.
pub async fn pay_refund<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    app_id: &str,
    request: Value,
    summary: String,
) -> ApiResult<()> {
    insert(
        db,
        NewMessage {
            kind: "pay_refund".to_owned(),
            channel: OutboxChannel::PayRefund,
            user_id: Some(user_id),
            app_id: app_id.to_owned(),
            openid: None,
            payload: request,
            summary,
            failed: None,
        },
    )
    .await
}

/// Queues a WeChat Pay merchant transfer (the body of
/// `/v3/fund-app/mch-transfer/transfer-bills`), in the caller's transaction.
pub async fn pay_transfer<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
    app_id: &str,
    request: Value,
    summary: String,
) -> ApiResult<()> {
    insert(
        db,
        NewMessage {
            kind: "pay_transfer".to_owned(),
            channel: OutboxChannel::PayTransfer,
            user_id: Some(user_id),
            app_id: app_id.to_owned(),
            openid: None,
            payload: request,
            summary,
            failed: None,
        },
    )
    .await
}

async fn insert<C: ConnectionTrait>(db: &C, m: NewMessage) -> ApiResult<()> {
    let now = clock::now();
    outbox_message::ActiveModel {
        id: Set(OutboxMessageId::new()),
        kind: Set(m.kind),
        channel: Set(m.channel),
        user_id: Set(m.user_id),
        app_id: Set(m.app_id),
        openid: Set(m.openid),
        payload: Set(m.payload.to_string()),
        summary: Set(m.summary),
        status: Set(if m.failed.is_some() {
            OutboxStatus::Failed
        } else {
            OutboxStatus::Pending
        }),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(m.failed),
        created_at: Set(now),
        updated_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Claims up to `batch_size` due messages (within the global rate), marking
/// each held until `lease` from now. Returns the rows and the lease end,
/// which fences the result: only the claim's holder can record the outcome.
async fn claim(
    state: &AppState,
) -> Result<(Vec<outbox_message::Model>, DateTime<Utc>), sea_orm::DbErr> {
    let settings = &state.settings.outbox;
    let now = clock::now();
    let until = now + chrono::Duration::seconds(i64::try_from(settings.lease_secs).unwrap_or(60));
    let txn = db::begin_write(&state.db).await?;
    let backend = txn.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };

    // The shared rate window (one row, locked for the claim's duration).
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 0) ON CONFLICT (key) DO NOTHING",
        ),
        [RATE_KEY.into(), now.into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                &format!("SELECT window_start, count FROM rate_limits WHERE key = $1{lock}"),
            ),
            [RATE_KEY.into()],
        ))
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
    let ids = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                &format!(
                    "SELECT id FROM outbox_messages WHERE status = 'pending' AND next_attempt_at <= $1 \
                     AND (locked_until IS NULL OR locked_until < $1) \
                     ORDER BY next_attempt_at LIMIT $2{skip}"
                ),
            ),
            [now.into(), take.into()],
        ))
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
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE rate_limits SET window_start = $2, count = $3 WHERE key = $1",
        ),
        [
            RATE_KEY.into(),
            window_start.into(),
            (used + claimed).into(),
        ],
    ))
    .await?;
    let rows = outbox_message::Entity::find()
        .filter(outbox_message::Column::Id.is_in(ids))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok((rows, until))
}

/// Sends one message: to WeChat, or to the sandbox inbox.
async fn send(state: &AppState, m: &outbox_message::Model) -> Result<(), WechatError> {
    let (app, path) = match m.channel {
        OutboxChannel::Template => (App::Service, "/cgi-bin/message/template/send"),
        OutboxChannel::Custom => (App::Service, "/cgi-bin/message/custom/send"),
        OutboxChannel::Subscribe => (App::Mini, "/cgi-bin/message/subscribe/send"),
        OutboxChannel::PayRefund => {
            let request: Value =
                serde_json::from_str(&m.payload).map_err(|e| WechatError::Decode(e.to_string()))?;
            return crate::payment::send_refund(state, &request)
                .await
                .map_err(|e| WechatError::Transport(e.to_string()));
        }
        OutboxChannel::PayTransfer => {
            let request: Value =
                serde_json::from_str(&m.payload).map_err(|e| WechatError::Decode(e.to_string()))?;
            return crate::settlement::transfer::send(state, &request)
                .await
                .map_err(|e| WechatError::Transport(e.to_string()));
        }
    };
    if m.app_id.is_empty() || state.wechat.sandbox(app) {
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
        .insert(&state.db)
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
    state
        .wechat
        .call(&state.db, app, Method::POST, path, &[], Some(&payload))
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
    state: &AppState,
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
                    >= state.settings.outbox.max_attempts;
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
                    Expr::value(now + backoff(&state.settings.outbox, m.attempts)),
                )
            };
        }
    }
    update
        .filter(outbox_message::Column::Id.eq(m.id))
        .filter(outbox_message::Column::LockedUntil.eq(claim))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// One round: claim due messages, deliver them, record the outcomes.
/// Returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let (rows, claim_until) = claim(state).await?;
    let n = rows.len();
    let sends = rows.into_iter().map(|m| {
        let state = state.clone();
        async move {
            // Well inside the claim's lease, so no other worker sends it meanwhile.
            let limit = Duration::from_secs(state.settings.outbox.lease_secs / 2);
            let result = match tokio::time::timeout(limit, send(&state, &m)).await {
                Ok(result) => result,
                Err(_) => Err(WechatError::Transport("delivery timed out".into())),
            };
            record(&state, &m, claim_until, result).await
        }
    });
    for outcome in futures_util::future::join_all(sends).await {
        outcome?;
    }
    Ok(n)
}

/// Removes expired callback de-duplication keys (idempotent, so every
/// instance may run it).
async fn sweep_expired(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let backend = state.db.get_database_backend();
    state
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "DELETE FROM wechat_callback_seen WHERE expires_at < $1",
            ),
            [clock::now().into()],
        ))
        .await?;
    Ok(())
}

/// The delivery loop: runs until the process ends.
pub async fn run_worker(state: AppState) {
    let idle = Duration::from_millis(state.settings.outbox.poll_interval_ms.max(10));
    let mut last_sweep = std::time::Instant::now();
    loop {
        match deliver_due(&state).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the outbox worker could not claim messages"),
        }
        if last_sweep.elapsed() > Duration::from_secs(60) {
            last_sweep = std::time::Instant::now();
            if let Err(e) = sweep_expired(&state).await {
                tracing::warn!(error = %e, "sweeping callback keys failed");
            }
        }
        tokio::time::sleep(idle).await;
    }
}
