use sea_orm::entity::prelude::*;

use crate::{CommunityId, HouseholdId, OwnerRecordId};

/// One owner (业主) of a household in the property's own register. Personal
/// data is stored encrypted, with keyed hashes for matching.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "owner_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: OwnerRecordId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub owner_name: String,
    pub phone_hash: String,
    pub phone_enc: String,
    pub phone_masked: String,
    pub id_number_hash: Option<String>,
    pub id_number_enc: Option<String>,
    pub id_number_masked: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
