//! The escrow ledger: double-entry accounts, journal entries and their lines.
//!
//! Every movement of money is one entry whose lines sum to zero (debit
//! positive, credit negative). An entry's `key` names the business fact it
//! records (`payment:<order>`, `refund:<refund>:decided`, …) and is unique,
//! so a fact replayed by a retry or a second instance is recorded once;
//! `subject_id` names the refund, withdrawal or bill an entry is about.
//! `ledger_accounts.balance` is kept in the same transaction as the lines,
//! in the account's natural sign; merchants' and wallets' balances may never
//! go below zero (checked here as well as in the code).

use sea_orm_migration::prelude::*;

use crate::columns::{id, index, text, time, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Id,
    Kind,
    OwnerId,
    Balance,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JournalEntries {
    Table,
    Id,
    Kind,
    Key,
    CommunityId,
    OrderId,
    SubjectId,
    Memo,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JournalLines {
    Table,
    Id,
    EntryId,
    AccountId,
    OrderId,
    Amount,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LedgerAccounts::Table)
                    .col(id(LedgerAccounts::Id))
                    .col(text(LedgerAccounts::Kind, 24))
                    .col(uuid_ref(LedgerAccounts::OwnerId))
                    .col(
                        ColumnDef::new(LedgerAccounts::Balance)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(LedgerAccounts::CreatedAt))
                    .col(time(LedgerAccounts::UpdatedAt))
                    .check(
                        Expr::col(LedgerAccounts::Kind)
                            .is_not_in(["merchant_payable", "household_wallet"])
                            .or(Expr::col(LedgerAccounts::Balance).gte(0)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_ledger_accounts_kind_owner",
                    LedgerAccounts::Table,
                    [
                        LedgerAccounts::Kind.into_iden(),
                        LedgerAccounts::OwnerId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JournalEntries::Table)
                    .col(id(JournalEntries::Id))
                    .col(text(JournalEntries::Kind, 24))
                    .col(text(JournalEntries::Key, 100))
                    .col(uuid_null(JournalEntries::CommunityId))
                    .col(uuid_null(JournalEntries::OrderId))
                    .col(uuid_null(JournalEntries::SubjectId))
                    .col(text(JournalEntries::Memo, 200))
                    .col(uuid_null(JournalEntries::CreatedBy))
                    .col(time(JournalEntries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_journal_entries_key",
                    JournalEntries::Table,
                    [JournalEntries::Key.into_iden()],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_journal_entries_order",
                JournalEntries::Table,
                [JournalEntries::OrderId.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_journal_entries_subject",
                JournalEntries::Table,
                [JournalEntries::SubjectId.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(JournalLines::Table)
                    .col(id(JournalLines::Id))
                    .col(uuid_ref(JournalLines::EntryId))
                    .col(uuid_ref(JournalLines::AccountId))
                    .col(uuid_null(JournalLines::OrderId))
                    .col(
                        ColumnDef::new(JournalLines::Amount)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_journal_lines_entry")
                            .from(JournalLines::Table, JournalLines::EntryId)
                            .to(JournalEntries::Table, JournalEntries::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_journal_lines_account")
                            .from(JournalLines::Table, JournalLines::AccountId)
                            .to(LedgerAccounts::Table, LedgerAccounts::Id),
                    )
                    .check(Expr::col(JournalLines::Amount).ne(0))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "ix_journal_lines_entry",
                [
                    JournalLines::EntryId.into_iden(),
                    JournalLines::Id.into_iden(),
                ],
            ),
            (
                "ix_journal_lines_account",
                [
                    JournalLines::AccountId.into_iden(),
                    JournalLines::Id.into_iden(),
                ],
            ),
            (
                "ix_journal_lines_order",
                [
                    JournalLines::OrderId.into_iden(),
                    JournalLines::AccountId.into_iden(),
                ],
            ),
        ] {
            manager
                .create_index(index(name, JournalLines::Table, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            JournalLines::Table.into_iden(),
            JournalEntries::Table.into_iden(),
            LedgerAccounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
