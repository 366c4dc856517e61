//! Settlement: when an order's money went to its merchant, and each
//! merchant's commission to the property (basis points, 0 = none).

use sea_orm_migration::prelude::*;

use crate::columns::time_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Orders {
    Table,
    SettledAt,
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    CommissionBp,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(time_null(Orders::SettledAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Merchants::Table)
                    .add_column(
                        ColumnDef::new(Merchants::CommissionBp)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        // The settlement job's queue: completed orders not yet settled, by
        // confirmation time (a partial index, the same SQL on both engines).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_orders_unsettled ON orders (confirmed_at) \
                 WHERE status = 'completed' AND settled_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ix_orders_unsettled")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Merchants::Table)
                    .drop_column(Merchants::CommissionBp)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .drop_column(Orders::SettledAt)
                    .to_owned(),
            )
            .await
    }
}
