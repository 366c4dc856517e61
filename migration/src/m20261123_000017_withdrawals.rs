//! Withdrawals: merchants ask for their settled balance to be paid out;
//! the property's finance staff approve or reject, then record the payment.

use sea_orm_migration::prelude::*;

use crate::columns::{id, text, text_null, time, time_null, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Withdrawals {
    Table,
    Id,
    MerchantId,
    Amount,
    Status,
    RequestedBy,
    DecidedBy,
    DecidedAt,
    Reason,
    PaidBy,
    PaidAt,
    PayoutReference,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Withdrawals::Table)
                    .col(id(Withdrawals::Id))
                    .col(uuid_ref(Withdrawals::MerchantId))
                    .col(ColumnDef::new(Withdrawals::Amount).big_integer().not_null())
                    .col(text(Withdrawals::Status, 16))
                    .col(uuid_ref(Withdrawals::RequestedBy))
                    .col(uuid_null(Withdrawals::DecidedBy))
                    .col(time_null(Withdrawals::DecidedAt))
                    .col(text_null(Withdrawals::Reason, 200))
                    .col(uuid_null(Withdrawals::PaidBy))
                    .col(time_null(Withdrawals::PaidAt))
                    .col(text_null(Withdrawals::PayoutReference, 64))
                    .col(time(Withdrawals::CreatedAt))
                    .col(time(Withdrawals::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_withdrawals_merchant")
                            .from(Withdrawals::Table, Withdrawals::MerchantId)
                            .to(Merchants::Table, Merchants::Id),
                    )
                    .check(Expr::col(Withdrawals::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_withdrawals_merchant")
                    .table(Withdrawals::Table)
                    .col(Withdrawals::MerchantId)
                    .col(Withdrawals::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Withdrawals::Table).to_owned())
            .await
    }
}
