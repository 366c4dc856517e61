//! Property-fee bills (物业费): one per household and period, generated from
//! the floor area and a rate or imported; paid by WeChat Pay, from the
//! household's wallet, or both. Each payment is a row of its own (the
//! receipt); a WeChat Pay part is `pending` until its notification.

use sea_orm_migration::prelude::*;

use crate::columns::{id, index, text, text_null, time, time_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FeeBills {
    Table,
    Id,
    CommunityId,
    HouseholdId,
    Period,
    Amount,
    PaidAmount,
    Status,
    AreaCentiM2,
    RateFen,
    Source,
    DueOn,
    CreatedBy,
    PaidAt,
    RemindedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum FeePayments {
    Table,
    Id,
    BillId,
    CommunityId,
    HouseholdId,
    PaidBy,
    Method,
    Amount,
    Status,
    OutTradeNo,
    PaidAt,
    CheckedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let money = |c: FeeBills| ColumnDef::new(c).big_integer().not_null().take();
        manager
            .create_table(
                Table::create()
                    .table(FeeBills::Table)
                    .col(id(FeeBills::Id))
                    .col(uuid_ref(FeeBills::CommunityId))
                    .col(uuid_ref(FeeBills::HouseholdId))
                    .col(text(FeeBills::Period, 32))
                    .col(money(FeeBills::Amount))
                    .col(money(FeeBills::PaidAmount))
                    .col(text(FeeBills::Status, 24))
                    .col(ColumnDef::new(FeeBills::AreaCentiM2).big_integer().null())
                    .col(ColumnDef::new(FeeBills::RateFen).big_integer().null())
                    .col(text(FeeBills::Source, 16))
                    .col(ColumnDef::new(FeeBills::DueOn).date().not_null())
                    .col(uuid_ref(FeeBills::CreatedBy))
                    .col(time_null(FeeBills::PaidAt))
                    .col(time_null(FeeBills::RemindedAt))
                    .col(time(FeeBills::CreatedAt))
                    .col(time(FeeBills::UpdatedAt))
                    .check(Expr::col(FeeBills::Amount).gt(0))
                    .check(Expr::col(FeeBills::PaidAmount).gte(0))
                    .check(Expr::col(FeeBills::PaidAmount).lte(Expr::col(FeeBills::Amount)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_fee_bills_household_period",
                    FeeBills::Table,
                    [
                        FeeBills::HouseholdId.into_iden(),
                        FeeBills::Period.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_fee_bills_community",
                FeeBills::Table,
                [FeeBills::CommunityId.into_iden(), FeeBills::Id.into_iden()],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeePayments::Table)
                    .col(id(FeePayments::Id))
                    .col(uuid_ref(FeePayments::BillId))
                    .col(uuid_ref(FeePayments::CommunityId))
                    .col(uuid_ref(FeePayments::HouseholdId))
                    .col(uuid_ref(FeePayments::PaidBy))
                    .col(text(FeePayments::Method, 16))
                    .col(ColumnDef::new(FeePayments::Amount).big_integer().not_null())
                    .col(text(FeePayments::Status, 16))
                    .col(text_null(FeePayments::OutTradeNo, 32))
                    .col(time_null(FeePayments::PaidAt))
                    .col(time_null(FeePayments::CheckedAt))
                    .col(time(FeePayments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_fee_payments_bill")
                            .from(FeePayments::Table, FeePayments::BillId)
                            .to(FeeBills::Table, FeeBills::Id),
                    )
                    .check(Expr::col(FeePayments::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_fee_payments_out_trade_no",
                    FeePayments::Table,
                    [FeePayments::OutTradeNo.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_fee_payments_bill",
                FeePayments::Table,
                [FeePayments::BillId.into_iden(), FeePayments::Id.into_iden()],
            ))
            .await?;
        // Reconciliation: pending WeChat Pay parts by age.
        manager
            .create_index(index(
                "ix_fee_payments_status_created",
                FeePayments::Table,
                [
                    FeePayments::Status.into_iden(),
                    FeePayments::CreatedAt.into_iden(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeePayments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(FeeBills::Table).to_owned())
            .await
    }
}
