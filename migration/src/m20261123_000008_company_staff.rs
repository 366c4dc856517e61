//! Accounts of delivery companies' staff, who register their own couriers.

use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeliveryCompanies {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum DeliveryCompanyStaff {
    Table,
    Id,
    CompanyId,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeliveryCompanyStaff::Table)
                    .col(id(DeliveryCompanyStaff::Id))
                    .col(uuid_ref(DeliveryCompanyStaff::CompanyId))
                    .col(uuid_ref(DeliveryCompanyStaff::UserId))
                    .col(time(DeliveryCompanyStaff::CreatedAt))
                    .foreign_key(&mut cascade(
                        "fk_delivery_company_staff_company",
                        (DeliveryCompanyStaff::Table, DeliveryCompanyStaff::CompanyId),
                        (DeliveryCompanies::Table, DeliveryCompanies::Id),
                    ))
                    .foreign_key(&mut cascade(
                        "fk_delivery_company_staff_user",
                        (DeliveryCompanyStaff::Table, DeliveryCompanyStaff::UserId),
                        (Users::Table, Users::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_delivery_company_staff_user")
                    .table(DeliveryCompanyStaff::Table)
                    .col(DeliveryCompanyStaff::CompanyId)
                    .col(DeliveryCompanyStaff::UserId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryCompanyStaff::Table).to_owned())
            .await
    }
}
