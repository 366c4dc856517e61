use sea_orm::entity::prelude::*;

use crate::{OutboxChannel, OutboxMessageId, SandboxMessageId, UserId};

/// A message the sandbox received instead of WeChat, so a developer can see
/// what a resident would have been sent.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SandboxMessageId,
    pub outbox_id: OutboxMessageId,
    pub user_id: Option<UserId>,
    pub openid: Option<String>,
    pub kind: String,
    pub channel: OutboxChannel,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub delivered_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
