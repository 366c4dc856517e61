//! Withdrawals paid by WeChat Pay's merchant transfer (商家转账), when
//! configured: the transfer's state, number, the payee's confirmation
//! package, and when reconciliation last asked about it.

use sea_orm_migration::prelude::*;

use crate::columns::{long_text_null, text_null, time_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Withdrawals {
    Table,
    TransferState,
    TransferBillNo,
    TransferPackage,
    TransferCheckedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            text_null(Withdrawals::TransferState, 24),
            text_null(Withdrawals::TransferBillNo, 64),
            long_text_null(Withdrawals::TransferPackage),
            time_null(Withdrawals::TransferCheckedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Withdrawals::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Withdrawals::TransferCheckedAt,
            Withdrawals::TransferPackage,
            Withdrawals::TransferBillNo,
            Withdrawals::TransferState,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Withdrawals::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
