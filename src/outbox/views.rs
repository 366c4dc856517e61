//! What the outbox's routes answer: messages as operators see them, the
//! sandbox inbox.

use chrono::{DateTime, Utc};
use entity::{OutboxChannel, OutboxMessageId, OutboxStatus, SandboxMessageId, UserId};
use entity::{outbox_message, sandbox_message};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// An openid shown to operators: enough to tell people apart, not to reuse.
fn mask_openid(openid: &str) -> String {
    let head: String = openid.chars().take(6).collect();
    format!("{head}***")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    pub id: OutboxMessageId,
    pub kind: String,
    pub channel: OutboxChannel,
    pub user_id: Option<UserId>,
    /// Masked.
    pub openid: Option<String>,
    pub summary: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<outbox_message::Model> for OutboxEntry {
    fn from(m: outbox_message::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            channel: m.channel,
            user_id: m.user_id,
            openid: m.openid.as_deref().map(mask_openid),
            summary: m.summary,
            status: m.status,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            last_error: m.last_error,
            created_at: m.created_at,
            sent_at: m.sent_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxFilter {
    pub status: Option<OutboxStatus>,
    pub kind: Option<String>,
    pub user_id: Option<UserId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SandboxEntry {
    pub id: SandboxMessageId,
    pub outbox_id: OutboxMessageId,
    pub user_id: Option<UserId>,
    pub kind: String,
    pub channel: OutboxChannel,
    /// What the person would read.
    pub summary: String,
    /// What would have been sent to WeChat.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub delivered_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxFilter {
    /// Operator admins may read anyone's (or everyone's) inbox.
    pub user_id: Option<UserId>,
}

impl From<sandbox_message::Model> for SandboxEntry {
    fn from(m: sandbox_message::Model) -> Self {
        Self {
            id: m.id,
            outbox_id: m.outbox_id,
            user_id: m.user_id,
            kind: m.kind,
            channel: m.channel,
            summary: m.summary,
            payload: serde_json::from_str(&m.payload).unwrap_or(Value::Null),
            delivered_at: m.delivered_at,
        }
    }
}
