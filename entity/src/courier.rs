use sea_orm::entity::prelude::*;

use crate::{
    CommunityId, CourierId, CourierStatus, DeliveryCompanyId, EmployerKind, FileId, MerchantId,
    UserId,
};

/// A courier, with their pass (通行证). Exactly one employer column is set,
/// matching `employer_kind`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "couriers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CourierId,
    pub employer_kind: EmployerKind,
    pub merchant_id: Option<MerchantId>,
    pub company_id: Option<DeliveryCompanyId>,
    pub community_id: Option<CommunityId>,
    pub name: String,
    pub phone_hash: String,
    pub phone_enc: String,
    pub phone_masked: String,
    pub id_number_hash: String,
    pub id_number_enc: String,
    pub id_number_masked: String,
    pub photo_file_id: Option<FileId>,
    pub pass_number: String,
    pub pass_valid_until: DateTimeUtc,
    pub status: CourierStatus,
    pub status_reason: Option<String>,
    pub registered_by: UserId,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// Whether the courier may be let in at `now`: active, pass valid.
    pub fn may_pass(&self, now: DateTimeUtc) -> bool {
        self.status == CourierStatus::Active && self.pass_valid_until > now
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
