use sea_orm::entity::prelude::*;

use crate::{
    CommunityId, FeeBillId, FeePaymentId, FeePaymentStatus, Fen, HouseholdId, PaymentMethod, UserId,
};

/// One payment towards a fee bill: its receipt once it succeeded.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fee_payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: FeePaymentId,
    pub bill_id: FeeBillId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub paid_by: UserId,
    pub method: PaymentMethod,
    pub amount: Fen,
    pub status: FeePaymentStatus,
    /// WeChat Pay's `out_trade_no` (`F…`), for the WeChat Pay part.
    pub out_trade_no: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    /// When reconciliation last asked WeChat Pay about it.
    pub checked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
