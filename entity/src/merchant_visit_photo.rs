use sea_orm::entity::prelude::*;

use crate::{CommunityId, FileId, MerchantVisitId, VisitPhotoId};

/// A photo taken on a verification visit (扫街).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_visit_photos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: VisitPhotoId,
    pub visit_id: MerchantVisitId,
    pub file_id: FileId,
    pub community_id: CommunityId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
