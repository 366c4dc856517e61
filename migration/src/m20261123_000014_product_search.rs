//! Product search (模糊搜索): an inverted index of character bigrams.
//!
//! Each row says "this term occurs in this product", with a weight: 3 when it
//! is in the title, 2 in the merchant's shop name, 1 in the description,
//! summed over the fields it occurs in. A term is two characters packed into
//! one integer (`first << 21 | second`, or `first << 21` for the last
//! character of a run), so a one-character query is an integer range and the
//! index is compact and compares the same on both engines.
//! `products.search_version` records which tokenizer indexed the product: the
//! server re-indexes products below its own version when it starts.

use sea_orm_migration::prelude::*;

use crate::columns::{cascade, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProductSearchTerms {
    Table,
    Term,
    ProductId,
    Weight,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    SearchVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProductSearchTerms::Table)
                    .col(
                        ColumnDef::new(ProductSearchTerms::Term)
                            .big_integer()
                            .not_null(),
                    )
                    .col(uuid_ref(ProductSearchTerms::ProductId))
                    .col(
                        ColumnDef::new(ProductSearchTerms::Weight)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProductSearchTerms::Term)
                            .col(ProductSearchTerms::ProductId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_product_search_terms_product",
                        (ProductSearchTerms::Table, ProductSearchTerms::ProductId),
                        (Products::Table, Products::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        // A one-word query walks this in rank order and stops at a page.
        manager
            .create_index(
                Index::create()
                    .name("ix_product_search_terms_rank")
                    .table(ProductSearchTerms::Table)
                    .col(ProductSearchTerms::Term)
                    .col((ProductSearchTerms::Weight, IndexOrder::Desc))
                    .col(ProductSearchTerms::ProductId)
                    .to_owned(),
            )
            .await?;
        // Re-indexing one product deletes its rows.
        manager
            .create_index(
                Index::create()
                    .name("ix_product_search_terms_product")
                    .table(ProductSearchTerms::Table)
                    .col(ProductSearchTerms::ProductId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .add_column(
                        ColumnDef::new(Products::SearchVersion)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // Finding the products a new tokenizer has not indexed yet.
        manager
            .create_index(
                Index::create()
                    .name("ix_products_search_version")
                    .table(Products::Table)
                    .col(Products::SearchVersion)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_products_search_version")
                    .table(Products::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Products::Table)
                    .drop_column(Products::SearchVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ProductSearchTerms::Table).to_owned())
            .await
    }
}
