use sea_orm::entity::prelude::*;

use crate::CommunityId;

/// A community (小区) the operator manages: the tenant boundary.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "communities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CommunityId,
    pub name: String,
    pub address: String,
    /// IANA time zone name, such as `Asia/Shanghai`.
    pub timezone: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
