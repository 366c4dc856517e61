use sea_orm::entity::prelude::*;

use crate::{CommunityId, LedgerAccountId, LedgerAccountKind};

/// An account of the escrow ledger. `owner_id` is the community, merchant or
/// household the account belongs to (the nil UUID for company-wide ones).
/// `balance` is in the account's natural sign and changes only with the
/// journal lines posted to it, in the same transaction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: LedgerAccountId,
    pub kind: LedgerAccountKind,
    pub owner_id: Uuid,
    /// The community a merchant's balance or payouts belong to (a merchant
    /// has one of each per community it sells in); `None` for every other
    /// account, and for merchants' accounts from before they were kept per
    /// community (which now hold nothing).
    pub community_id: Option<CommunityId>,
    pub balance: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
