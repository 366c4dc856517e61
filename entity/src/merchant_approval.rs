use sea_orm::entity::prelude::*;

use crate::{CommunityId, MerchantApprovalId, MerchantId, MerchantStatus, UserId};

/// A merchant's standing in one community, decided by that community's staff.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_communities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MerchantApprovalId,
    pub merchant_id: MerchantId,
    pub community_id: CommunityId,
    pub status: MerchantStatus,
    pub verified_until: Option<DateTimeUtc>,
    /// Why it was rejected or suspended.
    pub reason: Option<String>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// The status as of `now`: a verification past its date has expired.
    pub fn effective_status(&self, now: DateTimeUtc) -> MerchantStatus {
        match (self.status, self.verified_until) {
            (MerchantStatus::Verified, Some(until)) if until <= now => MerchantStatus::Expired,
            (status, _) => status,
        }
    }

    /// Whether the merchant may sell in this community at `now`.
    pub fn may_sell(&self, now: DateTimeUtc) -> bool {
        self.effective_status(now) == MerchantStatus::Verified
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::merchant::Entity",
        from = "Column::MerchantId",
        to = "super::merchant::Column::Id"
    )]
    Merchant,
}

impl Related<super::merchant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Merchant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
