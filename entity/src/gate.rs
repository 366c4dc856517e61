use sea_orm::entity::prelude::*;

use crate::{CommunityId, GateId};

/// A gate (门岗/出入口).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "gates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: GateId,
    pub community_id: CommunityId,
    pub name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
