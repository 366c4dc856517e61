use sea_orm::entity::prelude::*;

use crate::{CommunityId, Fen, WithdrawalId};

/// How much of a withdrawal each community's balance pays. A withdrawal
/// asked for now draws on one community; one asked for before balances were
/// kept per community may span several (first in, first out by settlement
/// date).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "withdrawal_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub withdrawal_id: WithdrawalId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub community_id: CommunityId,
    pub amount: Fen,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
