use sea_orm::entity::prelude::*;

use crate::{DocumentRole, FileId, MerchantDocumentId, MerchantId};

/// A file attached to a merchant's application.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchant_documents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MerchantDocumentId,
    pub merchant_id: MerchantId,
    pub file_id: FileId,
    pub role: DocumentRole,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
