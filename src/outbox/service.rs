//! The outbox's rules: writing a message in the caller's transaction
//! ([`notify`], [`custom_text`], [`pay_refund`], [`pay_transfer`]), and
//! operators' view of the queue (list, retry) and the sandbox inbox.

use std::collections::BTreeMap;

use entity::{
    OutboxChannel, OutboxMessageId, OutboxStatus, UserId, outbox_message, sandbox_message,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value, json};

use super::views::{OutboxEntry, OutboxFilter, SandboxEntry};
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageQuery};
use crate::wechat::identity;

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

/// Outbound messages, oldest first, by status, kind and person.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: &OutboxFilter,
    page: &PageQuery,
) -> ApiResult<Page<OutboxEntry>> {
    let mut select = outbox_message::Entity::find();
    if let Some(status) = filter.status {
        select = select.filter(outbox_message::Column::Status.eq(status));
    }
    if let Some(kind) = &filter.kind {
        select = select.filter(outbox_message::Column::Kind.eq(kind.as_str()));
    }
    if let Some(user_id) = filter.user_id {
        select = select.filter(outbox_message::Column::UserId.eq(user_id));
    }
    let page = page
        .parse()?
        .fetch(select, outbox_message::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    Ok(page.map(OutboxEntry::from))
}

/// Sends a failed message again (attempts start over); only a failed
/// message that has something to send.
pub async fn retry<C: ConnectionTrait>(db: &C, id: OutboxMessageId) -> ApiResult<OutboxEntry> {
    let now = clock::now();
    let changed = outbox_message::Entity::update_many()
        .col_expr(
            outbox_message::Column::Status,
            Expr::value(OutboxStatus::Pending),
        )
        .col_expr(outbox_message::Column::Attempts, Expr::value(0))
        .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(now))
        .col_expr(outbox_message::Column::UpdatedAt, Expr::value(now))
        .filter(outbox_message::Column::Id.eq(id))
        .filter(outbox_message::Column::Status.eq(OutboxStatus::Failed))
        .filter(outbox_message::Column::Payload.ne("null"))
        .exec(db)
        .await?
        .rows_affected;
    let message = outbox_message::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if changed == 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "only failed messages that have something to send can be retried",
        ));
    }
    Ok(message.into())
}

/// The sandbox inbox: the messages `of` would have received from WeChat
/// (everyone's when `None`).
pub async fn sandbox_inbox<C: ConnectionTrait>(
    db: &C,
    of: Option<UserId>,
    page: &PageQuery,
) -> ApiResult<Page<SandboxEntry>> {
    let mut select = sandbox_message::Entity::find();
    if let Some(user_id) = of {
        select = select.filter(sandbox_message::Column::UserId.eq(user_id));
    }
    let page = page
        .parse()?
        .fetch(select, sandbox_message::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    Ok(page.map(SandboxEntry::from))
}
