//! Uploaded files (images and documents), stored outside the database, and
//! the documents attached to merchants (photos, lease contract, ID document).

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    ContentType,
    SizeBytes,
    Width,
    Height,
    Sha256,
    StorageKey,
    UploadedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MerchantVisits {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MerchantVisitPhotos {
    Table,
    Id,
    VisitId,
    FileId,
    CommunityId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MerchantDocuments {
    Table,
    Id,
    MerchantId,
    FileId,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .col(id(Files::Id))
                    .col(text(Files::ContentType, 64))
                    .col(ColumnDef::new(Files::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(Files::Width).integer().null())
                    .col(ColumnDef::new(Files::Height).integer().null())
                    .col(text(Files::Sha256, 64))
                    .col(text(Files::StorageKey, 120))
                    .col(uuid_ref(Files::UploadedBy))
                    .col(time(Files::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MerchantDocuments::Table)
                    .col(id(MerchantDocuments::Id))
                    .col(uuid_ref(MerchantDocuments::MerchantId))
                    .col(uuid_ref(MerchantDocuments::FileId))
                    .col(text(MerchantDocuments::Role, 16))
                    .col(time(MerchantDocuments::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_merchant_documents_merchant",
                        (MerchantDocuments::Table, MerchantDocuments::MerchantId),
                        (Merchants::Table, Merchants::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_merchant_documents_file",
                        (MerchantDocuments::Table, MerchantDocuments::FileId),
                        (Files::Table, Files::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_merchant_documents_file")
                    .table(MerchantDocuments::Table)
                    .col(MerchantDocuments::FileId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MerchantVisitPhotos::Table)
                    .col(id(MerchantVisitPhotos::Id))
                    .col(uuid_ref(MerchantVisitPhotos::VisitId))
                    .col(uuid_ref(MerchantVisitPhotos::FileId))
                    .col(uuid_ref(MerchantVisitPhotos::CommunityId))
                    .col(time(MerchantVisitPhotos::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_merchant_visit_photos_visit",
                        (MerchantVisitPhotos::Table, MerchantVisitPhotos::VisitId),
                        (MerchantVisits::Table, MerchantVisits::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_merchant_visit_photos_file",
                        (MerchantVisitPhotos::Table, MerchantVisitPhotos::FileId),
                        (Files::Table, Files::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_merchant_visit_photos_file")
                    .table(MerchantVisitPhotos::Table)
                    .col(MerchantVisitPhotos::FileId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MerchantVisitPhotos::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(MerchantDocuments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Files::Table).to_owned())
            .await
    }
}
