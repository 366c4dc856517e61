//! Settlement no longer writes the wide `orders` table.
//!
//! - `settlement_queue`: one narrow row per completed order waiting to
//!   settle (put there when the order completes, taken out when it settles
//!   or is refunded). The settlement job reads its due rows by
//!   `confirmed_at`.
//! - `order_settlements`: one row per settled order, with what it settled
//!   for (gross, the property's commission) and the ledger entry that moved
//!   the money. Merchants' daily statements read it.
//!
//! Marking an order settled used to rewrite its `orders` row, and since the
//! queue's partial index named `settled_at`, every index of that table got a
//! new entry: most of a settlement run's time. `orders.settled_at` and
//! `ix_orders_unsettled` move here; existing settlements and waiting orders
//! are copied over.

use sea_orm_migration::prelude::*;

use crate::columns::{count, id, index, time, time_null, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SettlementQueue {
    Table,
    OrderId,
    ConfirmedAt,
}

#[derive(DeriveIden)]
enum OrderSettlements {
    Table,
    OrderId,
    EntryId,
    CommunityId,
    MerchantId,
    Gross,
    Commission,
    SettledAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    Id,
    SettledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SettlementQueue::Table)
                    .col(id(SettlementQueue::OrderId))
                    .col(time(SettlementQueue::ConfirmedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_settlement_queue_order")
                            .from(SettlementQueue::Table, SettlementQueue::OrderId)
                            .to(Orders::Table, Orders::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_settlement_queue_confirmed",
                SettlementQueue::Table,
                [SettlementQueue::ConfirmedAt.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderSettlements::Table)
                    .col(id(OrderSettlements::OrderId))
                    .col(uuid_null(OrderSettlements::EntryId))
                    .col(uuid_ref(OrderSettlements::CommunityId))
                    .col(uuid_null(OrderSettlements::MerchantId))
                    .col(
                        ColumnDef::new(OrderSettlements::Gross)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(OrderSettlements::Commission)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(OrderSettlements::SettledAt))
                    // No foreign keys: the rows are written only by the
                    // settlement job, in the transaction that holds the order
                    // and posts the entry, 5,000 at a time, where checking two
                    // keys per row was most of the insert's cost. `anjia
                    // ledger verify` checks that each row's order and entry
                    // agree with it.
                    .check(Expr::col(OrderSettlements::Gross).gte(0))
                    .check(Expr::col(OrderSettlements::Commission).gte(0))
                    .check(
                        Expr::col(OrderSettlements::Commission)
                            .lte(Expr::col(OrderSettlements::Gross)),
                    )
                    .to_owned(),
            )
            .await?;
        // A merchant's statement: their settlements of one day.
        manager
            .create_index(index(
                "ix_order_settlements_merchant",
                OrderSettlements::Table,
                [
                    OrderSettlements::MerchantId.into_iden(),
                    OrderSettlements::SettledAt.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_order_settlements_entry",
                OrderSettlements::Table,
                [OrderSettlements::EntryId.into_iden()],
            ))
            .await?;

        let db = manager.get_connection();
        // Orders settled so far, each by its own entry: what escrow gave up
        // and what the property kept (an order that held nothing settled
        // without an entry).
        db.execute_unprepared(
            "INSERT INTO order_settlements \
             (order_id, entry_id, community_id, merchant_id, gross, commission, settled_at) \
             SELECT o.id, e.id, o.community_id, o.merchant_id, \
             COALESCE((SELECT SUM(l.amount) FROM journal_lines l \
               JOIN ledger_accounts a ON a.id = l.account_id \
               WHERE l.entry_id = e.id AND a.kind = 'escrow'), 0), \
             COALESCE((SELECT -SUM(l.amount) FROM journal_lines l \
               JOIN ledger_accounts a ON a.id = l.account_id \
               WHERE l.entry_id = e.id AND a.kind = 'property_revenue'), 0), \
             o.settled_at \
             FROM orders o LEFT JOIN journal_entries e ON e.order_id = o.id AND e.kind = 'settlement' \
             WHERE o.settled_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO settlement_queue (order_id, confirmed_at) \
             SELECT id, confirmed_at FROM orders \
             WHERE status = 'completed' AND settled_at IS NULL AND confirmed_at IS NOT NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ix_orders_unsettled")
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Orders settled since are in batch entries, which the old schema
        // cannot tell apart per order: refuse rather than lose that.
        let batched = count(
            manager,
            "SELECT COUNT(*) AS n FROM order_settlements s \
             JOIN journal_entries e ON e.id = s.entry_id WHERE e.order_id IS NULL",
        )
        .await?;
        if batched > 0 {
            return Err(DbErr::Migration(format!(
                "{batched} orders were settled in batches since this migration; \
                 it cannot be rolled back without losing which order each settled for"
            )));
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Orders::Table)
                    .add_column(time_null(Orders::SettledAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE orders SET settled_at = \
             (SELECT s.settled_at FROM order_settlements s WHERE s.order_id = orders.id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_orders_unsettled ON orders (confirmed_at) \
             WHERE status = 'completed' AND settled_at IS NULL",
        )
        .await?;
        manager
            .drop_table(Table::drop().table(OrderSettlements::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SettlementQueue::Table).to_owned())
            .await
    }
}
