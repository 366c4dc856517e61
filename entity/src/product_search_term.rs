use sea_orm::entity::prelude::*;

use crate::ProductId;

/// One row of the search index: `term` (two characters packed into an
/// integer) occurs in `product`, with `weight` = 3 for the title + 2 for the
/// shop name + 1 for the description, over the fields it occurs in.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "product_search_terms")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub term: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub product_id: ProductId,
    pub weight: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
