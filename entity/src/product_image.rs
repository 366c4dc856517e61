use sea_orm::entity::prelude::*;

use crate::{FileId, ProductId};

/// An image shown with a product (uploaded through `/api/v1/files`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_images")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: ProductId,
    #[sea_orm(primary_key, auto_increment = false)]
    pub file_id: FileId,
    pub sort_order: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
