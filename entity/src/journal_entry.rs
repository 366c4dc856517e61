use sea_orm::entity::prelude::*;

use crate::{CommunityId, JournalEntryId, JournalKind, OrderId, UserId};

/// One movement of money: lines that sum to zero. `key` names the business
/// fact (`payment:<order>`, `refund:<refund>:decided`, …) and is unique, so
/// a fact is recorded once however often it is replayed.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: JournalEntryId,
    pub kind: JournalKind,
    pub key: String,
    pub community_id: Option<CommunityId>,
    pub order_id: Option<OrderId>,
    /// The refund, withdrawal or bill the entry is about.
    pub subject_id: Option<Uuid>,
    pub memo: String,
    /// Absent for the system (notifications, sweepers).
    pub created_by: Option<UserId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
