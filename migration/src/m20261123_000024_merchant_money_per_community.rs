//! A merchant's money is kept per community.
//!
//! Until now a merchant had one balance (`merchant_payable`) and one
//! `payouts_in_flight` account for every community it sells in, so the
//! finance staff of any one of them saw, and decided, payouts of money
//! earned in the others. From here on both accounts are per merchant *and*
//! community (`ledger_accounts.community_id`), and every withdrawal draws on
//! named communities (`withdrawal_allocations`; a new one on exactly one,
//! `withdrawals.community_id`).
//!
//! The balances move without losing a fen. For each merchant, its ledger
//! lines are replayed in order: settlements credit their community; each
//! withdrawal takes its amount first in, first out by settlement date (so a
//! payout may span communities), and a rejected one gives its parts back
//! where they came from. The result is recorded as each withdrawal's
//! allocation and posted as one `balance_split` entry per merchant, which
//! empties the merchant-wide accounts into the per-community ones. Any
//! mismatch (a balance row that differs from its lines, a history that does
//! not come to the balances) stops the migration, and `anjia ledger verify`
//! proves the totals afterwards.
//!
//! Stop every instance of the older server before this runs: one still
//! running would credit settlements to the merchant-wide account, which
//! nothing reads any more (`ledger verify` reports it).

use std::collections::{BTreeMap, HashMap};

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, Uuid};
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};
use sha2::{Digest, Sha256};

use crate::columns::{count, index, uuid_null, uuid_ref};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Id,
    Kind,
    OwnerId,
    CommunityId,
    Balance,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Withdrawals {
    Table,
    Id,
    CommunityId,
}

#[derive(DeriveIden)]
enum WithdrawalAllocations {
    Table,
    WithdrawalId,
    CommunityId,
    Amount,
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

const PAYABLE: &str = "merchant_payable";
const IN_FLIGHT: &str = "payouts_in_flight";

/// A ledger account's id, exactly as the server derives it (`ledger::Account::id`).
fn account_id(kind: &str, owner: Uuid, community: Option<Uuid>) -> Uuid {
    let mut digest = Sha256::new()
        .chain_update(b"anjia-ledger-account\0")
        .chain_update(kind.as_bytes())
        .chain_update([0])
        .chain_update(owner.as_bytes());
    if let Some(c) = community {
        digest = digest.chain_update([0]).chain_update(c.as_bytes());
    }
    let digest = digest.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// One of a merchant's lines, replayed in order.
struct Line {
    account: Uuid,
    amount: i64,
    kind: String,
    key: String,
    community: Option<Uuid>,
    at: ChronoDateTimeUtc,
}

/// Money credited to a merchant in one community, not yet withdrawn.
#[derive(Clone, Copy)]
struct Chunk {
    at: ChronoDateTimeUtc,
    community: Uuid,
    amount: i64,
}

/// What one merchant's history comes to, per community.
#[derive(Default)]
struct Split {
    payable: BTreeMap<Uuid, i64>,
    in_flight: BTreeMap<Uuid, i64>,
    /// Each withdrawal's parts, by community.
    allocations: BTreeMap<Uuid, BTreeMap<Uuid, i64>>,
    /// The community a withdrawal drew on first.
    first: HashMap<Uuid, Uuid>,
}

fn withdrawal_of(key: &str) -> Result<Uuid, DbErr> {
    key.split(':')
        .nth(1)
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| DbErr::Migration(format!("cannot tell the withdrawal of entry {key}")))
}

/// Replays one merchant's lines: first in, first out by settlement date.
fn replay(merchant: Uuid, lines: &[Line], fallback: Option<Uuid>) -> Result<Split, DbErr> {
    let payable = account_id(PAYABLE, merchant, None);
    let mut queue: Vec<Chunk> = Vec::new();
    let mut parts: HashMap<Uuid, Vec<Chunk>> = HashMap::new();
    let mut done: HashMap<Uuid, bool> = HashMap::new();
    let mut split = Split::default();
    for l in lines {
        let on_payable = l.account == payable;
        match (on_payable, l.kind.as_str()) {
            (true, "withdrawal_requested") => {
                let w = withdrawal_of(&l.key)?;
                let mut wanted = l.amount;
                let mut taken = Vec::new();
                while wanted > 0 {
                    let Some(front) = queue.first_mut() else {
                        return Err(DbErr::Migration(format!(
                            "merchant {merchant}: withdrawal {w} takes more than was ever settled to it"
                        )));
                    };
                    let part = std::cmp::min(front.amount, wanted);
                    taken.push(Chunk {
                        amount: part,
                        ..*front
                    });
                    front.amount -= part;
                    wanted -= part;
                    if front.amount == 0 {
                        queue.remove(0);
                    }
                }
                if let Some(first) = taken.first() {
                    split.first.insert(w, first.community);
                }
                parts.insert(w, taken);
                done.insert(w, false);
            }
            (true, "withdrawal_rejected") => {
                let w = withdrawal_of(&l.key)?;
                for part in parts.get(&w).into_iter().flatten() {
                    let at = queue.partition_point(|c| c.at <= part.at);
                    queue.insert(at, *part);
                }
                done.insert(w, true);
            }
            (true, _) if l.amount < 0 => {
                let community = l.community.or(fallback).ok_or_else(|| {
                    DbErr::Migration(format!(
                        "merchant {merchant}: entry {} credits it in no community",
                        l.key
                    ))
                })?;
                let at = queue.partition_point(|c| c.at <= l.at);
                queue.insert(
                    at,
                    Chunk {
                        at: l.at,
                        community,
                        amount: -l.amount,
                    },
                );
            }
            (false, "withdrawal_paid") => {
                done.insert(withdrawal_of(&l.key)?, true);
            }
            (false, "withdrawal_requested" | "withdrawal_rejected") => {}
            _ => {
                return Err(DbErr::Migration(format!(
                    "merchant {merchant}: entry {} ({}) moves its balance in a way this migration does not know",
                    l.key, l.kind
                )));
            }
        }
    }
    for chunk in queue {
        *split.payable.entry(chunk.community).or_default() += chunk.amount;
    }
    for (w, taken) in parts {
        let by_community = split.allocations.entry(w).or_default();
        for part in &taken {
            *by_community.entry(part.community).or_default() += part.amount;
        }
        if done.get(&w) == Some(&false) {
            for part in &taken {
                *split.in_flight.entry(part.community).or_default() += part.amount;
            }
        }
    }
    Ok(split)
}

fn uuid_at(row: &sea_orm_migration::sea_orm::QueryResult, col: &str) -> Result<Uuid, DbErr> {
    row.try_get::<Uuid>("", col)
}

async fn exec(
    manager: &SchemaManager<'_>,
    stmt: &impl sea_orm_migration::sea_orm::StatementBuilder,
) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .get_connection()
        .execute_raw(backend.build(stmt))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerAccounts::Table)
                    .add_column(uuid_null(LedgerAccounts::CommunityId))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("uq_ledger_accounts_kind_owner")
                    .table(LedgerAccounts::Table)
                    .to_owned(),
            )
            .await?;
        // One account per kind and owner, and per community where there is
        // one (partial indexes: a unique index over a NULL column would let
        // the others repeat).
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_ledger_accounts_kind_owner ON ledger_accounts (kind, owner_id) \
             WHERE community_id IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_ledger_accounts_kind_owner_community \
             ON ledger_accounts (kind, owner_id, community_id) WHERE community_id IS NOT NULL",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Withdrawals::Table)
                    .add_column(uuid_null(Withdrawals::CommunityId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_withdrawals_community",
                Withdrawals::Table,
                [
                    Withdrawals::CommunityId.into_iden(),
                    Withdrawals::Id.into_iden(),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WithdrawalAllocations::Table)
                    .col(uuid_ref(WithdrawalAllocations::WithdrawalId))
                    .col(uuid_ref(WithdrawalAllocations::CommunityId))
                    .col(
                        ColumnDef::new(WithdrawalAllocations::Amount)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(WithdrawalAllocations::WithdrawalId)
                            .col(WithdrawalAllocations::CommunityId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_withdrawal_allocations_withdrawal")
                            .from(
                                WithdrawalAllocations::Table,
                                WithdrawalAllocations::WithdrawalId,
                            )
                            .to(Withdrawals::Table, Withdrawals::Id),
                    )
                    .check(Expr::col(WithdrawalAllocations::Amount).gt(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_withdrawal_allocations_community",
                WithdrawalAllocations::Table,
                [
                    WithdrawalAllocations::CommunityId.into_iden(),
                    WithdrawalAllocations::WithdrawalId.into_iden(),
                ],
            ))
            .await?;
        split_balances(manager).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            // Every withdrawal has its community now (SQLite cannot add the
            // constraint to an existing column; the server always sets it).
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE withdrawals ALTER COLUMN community_id SET NOT NULL",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Money moved per community since (a settlement, a withdrawal) has no
        // place in the older schema: refuse rather than merge it silently.
        let since = count(
            manager,
            "SELECT COUNT(*) AS n FROM journal_lines l \
             JOIN ledger_accounts a ON a.id = l.account_id \
             JOIN journal_entries e ON e.id = l.entry_id \
             WHERE a.community_id IS NOT NULL AND e.kind <> 'balance_split'",
        )
        .await?;
        if since > 0 {
            return Err(DbErr::Migration(format!(
                "{since} ledger lines moved merchants' money per community since this migration; \
                 it cannot be rolled back without merging balances the property keeps apart"
            )));
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "DELETE FROM journal_lines WHERE entry_id IN \
             (SELECT id FROM journal_entries WHERE kind = 'balance_split')",
        )
        .await?;
        db.execute_unprepared("DELETE FROM journal_entries WHERE kind = 'balance_split'")
            .await?;
        db.execute_unprepared("DELETE FROM ledger_accounts WHERE community_id IS NOT NULL")
            .await?;
        db.execute_unprepared(&format!(
            "UPDATE ledger_accounts SET balance = COALESCE((SELECT -SUM(l.amount) \
             FROM journal_lines l WHERE l.account_id = ledger_accounts.id), 0) \
             WHERE kind = '{PAYABLE}'"
        ))
        .await?;
        manager
            .drop_table(Table::drop().table(WithdrawalAllocations::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_withdrawals_community")
                    .table(Withdrawals::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Withdrawals::Table)
                    .drop_column(Withdrawals::CommunityId)
                    .to_owned(),
            )
            .await?;
        for name in [
            "uq_ledger_accounts_kind_owner_community",
            "uq_ledger_accounts_kind_owner",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(LedgerAccounts::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerAccounts::Table)
                    .drop_column(LedgerAccounts::CommunityId)
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
            .await
    }
}

/// Replays every merchant's history and posts its per-community balances.
async fn split_balances(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let accounts = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id, kind, owner_id, balance FROM ledger_accounts \
                 WHERE kind IN ('{PAYABLE}', '{IN_FLIGHT}') ORDER BY owner_id, kind"
            ),
        ))
        .await?;
    if accounts.is_empty() {
        return Ok(());
    }
    let mut merchants: BTreeMap<Uuid, (i64, i64)> = BTreeMap::new();
    let mut account_owner: HashMap<Uuid, Uuid> = HashMap::new();
    let mut kept: HashMap<Uuid, i64> = HashMap::new();
    for a in &accounts {
        let (id, owner) = (uuid_at(a, "id")?, uuid_at(a, "owner_id")?);
        account_owner.insert(id, owner);
        merchants.entry(owner).or_default();
        if a.try_get::<String>("", "kind")? == PAYABLE {
            kept.insert(owner, a.try_get("", "balance")?);
        }
    }
    let mut lines: HashMap<Uuid, Vec<Line>> = HashMap::new();
    let found = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT l.account_id, l.amount, e.kind, e.key, e.community_id, e.created_at \
                 FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
                 JOIN ledger_accounts a ON a.id = l.account_id \
                 WHERE a.kind IN ('{PAYABLE}', '{IN_FLIGHT}') ORDER BY e.created_at, e.id"
            ),
        ))
        .await?;
    for r in found {
        let account = uuid_at(&r, "account_id")?;
        let amount: i64 = r.try_get("", "amount")?;
        let owner = account_owner[&account];
        let totals = merchants.entry(owner).or_default();
        if account == account_id(PAYABLE, owner, None) {
            totals.0 -= amount;
        } else {
            totals.1 -= amount;
        }
        lines.entry(owner).or_default().push(Line {
            account,
            amount,
            kind: r.try_get("", "kind")?,
            key: r.try_get("", "key")?,
            community: r.try_get::<Option<Uuid>>("", "community_id")?,
            at: r.try_get("", "created_at")?,
        });
    }
    // Where money credited in no community goes (tests fund merchants
    // straight from clearing): the community the merchant first applied to.
    let mut first_community: HashMap<Uuid, Uuid> = HashMap::new();
    for r in db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT merchant_id, community_id FROM merchant_communities ORDER BY created_at DESC"
                .to_owned(),
        ))
        .await?
    {
        first_community.insert(uuid_at(&r, "merchant_id")?, uuid_at(&r, "community_id")?);
    }
    let now = chrono::Utc::now();
    for (merchant, (payable_total, in_flight_total)) in merchants {
        let history = lines.remove(&merchant).unwrap_or_default();
        let split = replay(merchant, &history, first_community.get(&merchant).copied())?;
        if kept.get(&merchant).copied().unwrap_or(0) != payable_total {
            return Err(DbErr::Migration(format!(
                "merchant {merchant}: its balance row says {} but its lines come to {payable_total}; \
                 run anjia ledger verify and mend the ledger first",
                kept.get(&merchant).copied().unwrap_or(0)
            )));
        }
        let kept_payable: i64 = split.payable.values().sum();
        let kept_in_flight: i64 = split.in_flight.values().sum();
        if (kept_payable, kept_in_flight) != (payable_total, in_flight_total) {
            return Err(DbErr::Migration(format!(
                "merchant {merchant}: its history comes to {kept_payable} available and \
                 {kept_in_flight} in flight, but its accounts hold {payable_total} and {in_flight_total}"
            )));
        }
        let entry = Uuid::now_v7();
        let mut posted: Vec<(Uuid, i64)> = Vec::new();
        let mut new_accounts: Vec<(Uuid, &str, Uuid, i64)> = Vec::new();
        for (kind, total, by_community) in [
            (PAYABLE, payable_total, &split.payable),
            (IN_FLIGHT, in_flight_total, &split.in_flight),
        ] {
            if total != 0 {
                posted.push((account_id(kind, merchant, None), total));
            }
            for (community, amount) in by_community {
                if *amount == 0 {
                    continue;
                }
                let id = account_id(kind, merchant, Some(*community));
                posted.push((id, -amount));
                // Only the merchant's balance is kept on its row.
                let kept = if kind == PAYABLE { *amount } else { 0 };
                new_accounts.push((id, kind, *community, kept));
            }
        }
        if !posted.is_empty() {
            exec(
                manager,
                Query::insert()
                    .into_table(JournalEntries::Table)
                    .columns([
                        JournalEntries::Id,
                        JournalEntries::Kind,
                        JournalEntries::Key,
                        JournalEntries::CommunityId,
                        JournalEntries::OrderId,
                        JournalEntries::SubjectId,
                        JournalEntries::Memo,
                        JournalEntries::CreatedBy,
                        JournalEntries::CreatedAt,
                    ])
                    .values_panic([
                        entry.into(),
                        "balance_split".into(),
                        format!("balance_split:{merchant}").into(),
                        Option::<Uuid>::None.into(),
                        Option::<Uuid>::None.into(),
                        Some(merchant).into(),
                        "the merchant's balance split per community (migration 24)".into(),
                        Option::<Uuid>::None.into(),
                        now.into(),
                    ]),
            )
            .await?;
            for (id, kind, community, balance) in &new_accounts {
                exec(
                    manager,
                    Query::insert()
                        .into_table(LedgerAccounts::Table)
                        .columns([
                            LedgerAccounts::Id,
                            LedgerAccounts::Kind,
                            LedgerAccounts::OwnerId,
                            LedgerAccounts::CommunityId,
                            LedgerAccounts::Balance,
                            LedgerAccounts::CreatedAt,
                            LedgerAccounts::UpdatedAt,
                        ])
                        .values_panic([
                            (*id).into(),
                            (*kind).into(),
                            merchant.into(),
                            Some(*community).into(),
                            (*balance).into(),
                            now.into(),
                            now.into(),
                        ]),
                )
                .await?;
            }
            for (account, amount) in posted {
                exec(
                    manager,
                    Query::insert()
                        .into_table(JournalLines::Table)
                        .columns([
                            JournalLines::Id,
                            JournalLines::EntryId,
                            JournalLines::AccountId,
                            JournalLines::OrderId,
                            JournalLines::Amount,
                        ])
                        .values_panic([
                            Uuid::now_v7().into(),
                            entry.into(),
                            account.into(),
                            Option::<Uuid>::None.into(),
                            amount.into(),
                        ]),
                )
                .await?;
            }
            exec(
                manager,
                Query::update()
                    .table(LedgerAccounts::Table)
                    .value(LedgerAccounts::Balance, 0)
                    .value(LedgerAccounts::UpdatedAt, now)
                    .and_where(
                        Expr::col(LedgerAccounts::Id).eq(account_id(PAYABLE, merchant, None)),
                    ),
            )
            .await?;
        }
        for (withdrawal, parts) in &split.allocations {
            for (community, amount) in parts {
                exec(
                    manager,
                    Query::insert()
                        .into_table(WithdrawalAllocations::Table)
                        .columns([
                            WithdrawalAllocations::WithdrawalId,
                            WithdrawalAllocations::CommunityId,
                            WithdrawalAllocations::Amount,
                        ])
                        .values_panic([
                            (*withdrawal).into(),
                            (*community).into(),
                            (*amount).into(),
                        ]),
                )
                .await?;
            }
            if let Some(first) = split.first.get(withdrawal) {
                exec(
                    manager,
                    Query::update()
                        .table(Withdrawals::Table)
                        .value(Withdrawals::CommunityId, *first)
                        .and_where(Expr::col(Withdrawals::Id).eq(*withdrawal)),
                )
                .await?;
            }
        }
    }
    let unplaced = count(
        manager,
        "SELECT COUNT(*) AS n FROM withdrawals WHERE community_id IS NULL",
    )
    .await?;
    if unplaced > 0 {
        return Err(DbErr::Migration(format!(
            "{unplaced} withdrawals have no ledger entry to place them in a community"
        )));
    }
    Ok(())
}
