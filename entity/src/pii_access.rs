use sea_orm::entity::prelude::*;

use crate::{CommunityId, PiiAccessId, PiiField, PiiSubject, UserId};

/// One staff access to a full personal value.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pii_access_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: PiiAccessId,
    pub community_id: CommunityId,
    pub accessed_by: UserId,
    pub subject_kind: PiiSubject,
    pub subject_id: Uuid,
    pub field: PiiField,
    pub purpose: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
