//! WeChat Pay reconciliation: when an order's prepay was made, when anjia
//! last asked WeChat Pay about it, and when it was closed there; when anjia
//! last asked about a pending refund.

use sea_orm_migration::prelude::*;

use crate::columns::time_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    PrepaidAt,
    PayCheckedAt,
    PayClosedAt,
}

#[derive(DeriveIden)]
enum Refunds {
    Table,
    CheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Orders::PrepaidAt, Orders::PayCheckedAt, Orders::PayClosedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .add_column(time_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .add_column(time_null(Refunds::CheckedAt))
                    .to_owned(),
            )
            .await?;
        // The reconciliation job's queue: prepaid orders not yet closed at
        // WeChat Pay (a partial index, the same SQL on both engines).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_orders_prepaid_open ON orders (pay_checked_at) \
                 WHERE prepaid_at IS NOT NULL AND pay_closed_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_orders_prepaid_open")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Refunds::Table)
                    .drop_column(Refunds::CheckedAt)
                    .to_owned(),
            )
            .await?;
        for col in [Orders::PayClosedAt, Orders::PayCheckedAt, Orders::PrepaidAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Orders::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
