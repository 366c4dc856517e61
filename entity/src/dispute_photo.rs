use sea_orm::entity::prelude::*;

use crate::{DisputeEventId, DisputeId, DisputePhotoId, FileId};

/// A photo attached to a step of a dispute (evidence).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dispute_photos")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DisputePhotoId,
    pub dispute_id: DisputeId,
    pub event_id: DisputeEventId,
    pub file_id: FileId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
