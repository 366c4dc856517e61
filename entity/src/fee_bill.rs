use sea_orm::entity::prelude::*;

use crate::{CommunityId, FeeBillId, FeeBillStatus, Fen, HouseholdId, UserId};

/// A property-fee bill (物业费) of one household for one period.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fee_bills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: FeeBillId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    /// The period billed, as finance name it (`2026-Q4`, `2026年`).
    pub period: String,
    pub amount: Fen,
    /// What has been paid so far (wallet and WeChat Pay parts).
    pub paid_amount: Fen,
    pub status: FeeBillStatus,
    /// The floor area billed, in hundredths of a square metre (generated bills).
    pub area_centi_m2: Option<i64>,
    /// Fen per square metre for the period (generated bills).
    pub rate_fen: Option<i64>,
    /// `generated` or `imported`.
    pub source: String,
    pub due_on: Date,
    pub created_by: UserId,
    pub paid_at: Option<DateTimeUtc>,
    /// When its household was last reminded of it.
    pub reminded_at: Option<DateTimeUtc>,
    /// Voided by finance (nothing had been paid): when, by whom, why.
    pub voided_at: Option<DateTimeUtc>,
    pub voided_by: Option<UserId>,
    pub void_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
