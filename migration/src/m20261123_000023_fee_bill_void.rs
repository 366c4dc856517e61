//! Finance may void (作废) a property-fee bill nothing has been paid on:
//! when, by whom and why; a voided bill no longer counts towards its
//! household's one bill per period, so the period can be billed again.

use sea_orm_migration::prelude::*;

use crate::columns::{count, text_null, time_null, uuid_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FeeBills {
    Table,
    VoidedAt,
    VoidedBy,
    VoidReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            time_null(FeeBills::VoidedAt),
            uuid_null(FeeBills::VoidedBy),
            text_null(FeeBills::VoidReason, 200),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(FeeBills::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ux_fee_bills_household_period")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_fee_bills_household_period ON fee_bills (household_id, period) \
             WHERE status <> 'void'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // A voided bill (with its ledger entries, perhaps payments) cannot be
        // expressed without this migration: refuse rather than lose it.
        let voided = count(
            manager,
            "SELECT COUNT(*) AS n FROM fee_bills WHERE status = 'void'",
        )
        .await?;
        if voided > 0 {
            return Err(DbErr::Migration(format!(
                "{voided} fee bills were voided; this migration cannot be rolled back without losing them"
            )));
        }
        db.execute_unprepared("DROP INDEX ux_fee_bills_household_period")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_fee_bills_household_period ON fee_bills (household_id, period)",
        )
        .await?;
        for column in [FeeBills::VoidReason, FeeBills::VoidedBy, FeeBills::VoidedAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(FeeBills::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
