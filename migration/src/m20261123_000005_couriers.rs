//! Couriers (配送员) and the third-party delivery companies that employ some
//! of them. Gate logs and delivery tracking refer to these rows later.

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeliveryCompanies {
    Table,
    Id,
    Name,
    ContactPhoneHash,
    ContactPhoneEnc,
    ContactPhoneMasked,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Couriers {
    Table,
    Id,
    EmployerKind,
    MerchantId,
    CompanyId,
    CommunityId,
    Name,
    PhoneHash,
    PhoneEnc,
    PhoneMasked,
    IdNumberHash,
    IdNumberEnc,
    IdNumberMasked,
    PhotoFileId,
    PassNumber,
    PassValidUntil,
    Status,
    StatusReason,
    RegisteredBy,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeliveryCompanies::Table)
                    .col(
                        ColumnDef::new(DeliveryCompanies::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(DeliveryCompanies::Name, 100))
                    .col(text(DeliveryCompanies::ContactPhoneHash, 64))
                    .col(
                        ColumnDef::new(DeliveryCompanies::ContactPhoneEnc)
                            .text()
                            .not_null(),
                    )
                    .col(text(DeliveryCompanies::ContactPhoneMasked, 16))
                    .col(
                        ColumnDef::new(DeliveryCompanies::CreatedBy)
                            .uuid()
                            .not_null(),
                    )
                    .col(time(DeliveryCompanies::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_delivery_companies_name")
                    .table(DeliveryCompanies::Table)
                    .col(DeliveryCompanies::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Couriers::Table)
                    .col(ColumnDef::new(Couriers::Id).uuid().not_null().primary_key())
                    .col(text(Couriers::EmployerKind, 16))
                    .col(ColumnDef::new(Couriers::MerchantId).uuid().null())
                    .col(ColumnDef::new(Couriers::CompanyId).uuid().null())
                    .col(ColumnDef::new(Couriers::CommunityId).uuid().null())
                    .col(text(Couriers::Name, 64))
                    .col(text(Couriers::PhoneHash, 64))
                    .col(ColumnDef::new(Couriers::PhoneEnc).text().not_null())
                    .col(text(Couriers::PhoneMasked, 16))
                    .col(text(Couriers::IdNumberHash, 64))
                    .col(ColumnDef::new(Couriers::IdNumberEnc).text().not_null())
                    .col(text(Couriers::IdNumberMasked, 24))
                    .col(ColumnDef::new(Couriers::PhotoFileId).uuid().null())
                    .col(text(Couriers::PassNumber, 16))
                    .col(time(Couriers::PassValidUntil))
                    .col(text(Couriers::Status, 16))
                    .col(
                        ColumnDef::new(Couriers::StatusReason)
                            .string_len(200)
                            .null(),
                    )
                    .col(ColumnDef::new(Couriers::RegisteredBy).uuid().not_null())
                    .col(time(Couriers::CreatedAt))
                    .col(time(Couriers::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_couriers_company")
                            .from(Couriers::Table, Couriers::CompanyId)
                            .to(DeliveryCompanies::Table, DeliveryCompanies::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_couriers_pass_number")
                    .table(Couriers::Table)
                    .col(Couriers::PassNumber)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_couriers_merchant", Couriers::MerchantId),
            ("ix_couriers_company", Couriers::CompanyId),
            ("ix_couriers_community", Couriers::CommunityId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Couriers::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Couriers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DeliveryCompanies::Table).to_owned())
            .await
    }
}
