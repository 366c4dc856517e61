//! Product images: uploaded files shown with a product, in order.

use sea_orm_migration::prelude::*;

use crate::columns::{cascade, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProductImages {
    Table,
    ProductId,
    FileId,
    SortOrder,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProductImages::Table)
                    .col(uuid_ref(ProductImages::ProductId))
                    .col(uuid_ref(ProductImages::FileId))
                    .col(
                        ColumnDef::new(ProductImages::SortOrder)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ProductImages::ProductId)
                            .col(ProductImages::FileId),
                    )
                    .foreign_key(&mut cascade(
                        "fk_product_images_product",
                        (ProductImages::Table, ProductImages::ProductId),
                        (Products::Table, Products::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_product_images_file")
                            .from(ProductImages::Table, ProductImages::FileId)
                            .to(Files::Table, Files::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // "Is this file a product image?" (who may download it).
        manager
            .create_index(
                Index::create()
                    .name("ix_product_images_file")
                    .table(ProductImages::Table)
                    .col(ProductImages::FileId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProductImages::Table).to_owned())
            .await
    }
}
