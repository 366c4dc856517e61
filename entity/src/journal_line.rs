use sea_orm::entity::prelude::*;

use crate::{JournalEntryId, JournalLineId, LedgerAccountId, OrderId};

/// One line of a journal entry: debit positive, credit negative, never zero.
/// `order_id` ties escrow lines to the order whose money they hold.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: JournalLineId,
    pub entry_id: JournalEntryId,
    pub account_id: LedgerAccountId,
    pub order_id: Option<OrderId>,
    pub amount: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
