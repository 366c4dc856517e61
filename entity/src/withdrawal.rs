use sea_orm::entity::prelude::*;

use crate::{CommunityId, Fen, MerchantId, UserId, WithdrawalId, WithdrawalStatus};

/// A merchant's request to be paid out of its settled balance.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "withdrawals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WithdrawalId,
    pub merchant_id: MerchantId,
    /// The community whose balance pays it (for a payout asked for before
    /// balances were kept per community, the first of the communities it
    /// drew on: `withdrawal_allocation` has each one's part).
    pub community_id: CommunityId,
    pub amount: Fen,
    pub status: WithdrawalStatus,
    pub requested_by: UserId,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTimeUtc>,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub paid_by: Option<UserId>,
    pub paid_at: Option<DateTimeUtc>,
    /// The bank transfer's (or WeChat transfer's) reference.
    pub payout_reference: Option<String>,
    /// WeChat Pay merchant transfer (when configured): its state as WeChat
    /// Pay last reported it (`queued` before it was sent).
    pub transfer_state: Option<String>,
    /// WeChat Pay's transfer number.
    pub transfer_bill_no: Option<String>,
    /// For `wx.requestMerchantTransfer` while the payee must confirm.
    pub transfer_package: Option<String>,
    /// When reconciliation last asked WeChat Pay about the transfer.
    pub transfer_checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
