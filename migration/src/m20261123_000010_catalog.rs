//! The catalog: a category tree (seeded with 衣, 食, 住, 行, 生活服务) and
//! merchants' products and services, priced in fen.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;

use crate::columns::{cascade, id, long_text, text, time, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    ParentId,
    Name,
    SortOrder,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    MerchantId,
    CategoryId,
    Kind,
    Title,
    Description,
    Unit,
    Price,
    OriginalPrice,
    Stock,
    SortOrder,
    OnShelf,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

/// The five roots, with fixed ids so every installation shares them.
const ROOTS: [(u128, &str, i32); 5] = [
    (0x0196_0000_0000_7000_8000_0000_0000_0001, "衣", 0),
    (0x0196_0000_0000_7000_8000_0000_0000_0002, "食", 1),
    (0x0196_0000_0000_7000_8000_0000_0000_0003, "住", 2),
    (0x0196_0000_0000_7000_8000_0000_0000_0004, "行", 3),
    (0x0196_0000_0000_7000_8000_0000_0000_0005, "生活服务", 4),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .col(id(Categories::Id))
                    .col(uuid_null(Categories::ParentId))
                    .col(text(Categories::Name, 32))
                    .col(ColumnDef::new(Categories::SortOrder).integer().not_null())
                    .col(ColumnDef::new(Categories::Active).boolean().not_null())
                    .col(time(Categories::CreatedAt))
                    .col(time(Categories::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_categories_parent",
                        (Categories::Table, Categories::ParentId),
                        (Categories::Table, Categories::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_categories_parent")
                    .table(Categories::Table)
                    .col(Categories::ParentId)
                    .col(Categories::SortOrder)
                    .to_owned(),
            )
            .await?;
        let now = chrono_now();
        for (id, name, sort_order) in ROOTS {
            let insert = Query::insert()
                .into_table(Categories::Table)
                .columns([
                    Categories::Id,
                    Categories::ParentId,
                    Categories::Name,
                    Categories::SortOrder,
                    Categories::Active,
                    Categories::CreatedAt,
                    Categories::UpdatedAt,
                ])
                .values([
                    Uuid::from_u128(id).into(),
                    Option::<Uuid>::None.into(),
                    name.into(),
                    sort_order.into(),
                    true.into(),
                    now.into(),
                    now.into(),
                ])
                .map_err(|e| DbErr::Custom(e.to_string()))?
                .to_owned();
            manager.exec_stmt(insert).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Products::Table)
                    .col(id(Products::Id))
                    .col(uuid_ref(Products::MerchantId))
                    .col(uuid_ref(Products::CategoryId))
                    .col(text(Products::Kind, 16))
                    .col(text(Products::Title, 60))
                    .col(long_text(Products::Description))
                    .col(text(Products::Unit, 16))
                    .col(ColumnDef::new(Products::Price).big_integer().not_null())
                    .col(ColumnDef::new(Products::OriginalPrice).big_integer().null())
                    .col(ColumnDef::new(Products::Stock).big_integer().null())
                    .col(ColumnDef::new(Products::SortOrder).integer().not_null())
                    .col(ColumnDef::new(Products::OnShelf).boolean().not_null())
                    .col(time(Products::CreatedAt))
                    .col(time(Products::UpdatedAt))
                    .foreign_key(&mut cascade(
                        "fk_products_merchant",
                        (Products::Table, Products::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_products_category")
                            .from(Products::Table, Products::CategoryId)
                            .to(Categories::Table, Categories::Id),
                    )
                    .check(Expr::col(Products::Price).gte(0))
                    .check(
                        Expr::col(Products::Stock)
                            .gte(0)
                            .or(Expr::col(Products::Stock).is_null()),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_products_merchant")
                    .table(Products::Table)
                    .col(Products::MerchantId)
                    .col(Products::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_products_category")
                    .table(Products::Table)
                    .col(Products::CategoryId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Products::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Categories::Table).to_owned())
            .await
    }
}

/// UTC now, as the migration's seed timestamp.
fn chrono_now() -> sea_orm_migration::sea_orm::prelude::DateTimeUtc {
    sea_orm_migration::sea_orm::prelude::DateTimeUtc::from(std::time::SystemTime::now())
}
