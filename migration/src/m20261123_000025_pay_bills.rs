//! WeChat Pay's daily bills, kept to reconcile against the ledger.
//!
//! - `pay_bills`: one row per business day (Beijing time, as WeChat Pay cuts
//!   its bills): whether its trade and fund-flow bills have been fetched, and
//!   when to try again while WeChat Pay is still making them. Claimed by a
//!   conditional update, so any number of instances may sweep.
//! - `pay_bill_lines`: every line of both bills as fetched (replaced when a
//!   day is fetched again): what the reconciliation report reads, matching
//!   each line to its transaction by trade number rather than by date.

use sea_orm_migration::prelude::*;

use crate::columns::{index, text, text_null, time, time_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PayBills {
    Table,
    BillDate,
    FetchedAt,
    Attempts,
    NextAttemptAt,
    LastError,
    TradeLines,
    FundLines,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PayBillLines {
    Table,
    BillDate,
    Source,
    Seq,
    Kind,
    WechatId,
    OutNo,
    Amount,
    Fee,
    OccurredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PayBills::Table)
                    .col(text(PayBills::BillDate, 10).primary_key())
                    .col(time_null(PayBills::FetchedAt))
                    .col(ColumnDef::new(PayBills::Attempts).integer().not_null())
                    .col(time_null(PayBills::NextAttemptAt))
                    .col(text_null(PayBills::LastError, 500))
                    .col(ColumnDef::new(PayBills::TradeLines).integer().not_null())
                    .col(ColumnDef::new(PayBills::FundLines).integer().not_null())
                    .col(time(PayBills::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PayBillLines::Table)
                    .col(text(PayBillLines::BillDate, 10))
                    // `trade` or `fund`.
                    .col(text(PayBillLines::Source, 8))
                    .col(ColumnDef::new(PayBillLines::Seq).integer().not_null())
                    // Trade: `payment` or `refund`; fund: the 业务类型.
                    .col(text(PayBillLines::Kind, 32))
                    .col(text(PayBillLines::WechatId, 64))
                    .col(text(PayBillLines::OutNo, 64))
                    // Fen; a fund-flow line's is negative when money left.
                    .col(
                        ColumnDef::new(PayBillLines::Amount)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PayBillLines::Fee).big_integer().not_null())
                    .col(text(PayBillLines::OccurredAt, 19))
                    .primary_key(
                        Index::create()
                            .col(PayBillLines::BillDate)
                            .col(PayBillLines::Source)
                            .col(PayBillLines::Seq),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_pay_bill_lines_out_no",
                PayBillLines::Table,
                [PayBillLines::OutNo.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_pay_bill_lines_wechat_id",
                PayBillLines::Table,
                [PayBillLines::WechatId.into_iden()],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The fees booked from the bills are entries the older server cannot
        // read: refuse rather than leave them.
        let fees = crate::columns::count(
            manager,
            "SELECT COUNT(*) AS n FROM journal_entries WHERE kind = 'provider_fee'",
        )
        .await?;
        if fees > 0 {
            return Err(DbErr::Migration(format!(
                "{fees} WeChat Pay fees were booked from the bills since this migration; \
                 it cannot be rolled back without losing them"
            )));
        }
        manager
            .drop_table(Table::drop().table(PayBillLines::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PayBills::Table).to_owned())
            .await
    }
}
