use sea_orm::entity::prelude::*;

use crate::{OutboxChannel, OutboxMessageId, OutboxStatus, UserId};

/// One outbound WeChat message, written in the same transaction as the change
/// that causes it and delivered by the outbox worker.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OutboxMessageId,
    /// The configured message kind (`order_paid`, `verification_result`, …).
    pub kind: String,
    pub channel: OutboxChannel,
    pub user_id: Option<UserId>,
    pub app_id: String,
    pub openid: Option<String>,
    /// The JSON body for WeChat's API (without the access token).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// What the person reads, in plain words (for operators and the sandbox).
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub status: OutboxStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A worker holds the row until then.
    pub locked_until: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
