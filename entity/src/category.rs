use sea_orm::entity::prelude::*;

use crate::CategoryId;

/// A catalog category; `parent_id` makes the tree (roots: 衣, 食, 住, 行, 生活服务).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    pub sort_order: i32,
    /// Hidden categories take no new products and are not listed to residents.
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
