//! The escrow ledger: double entry, in the same transaction as the business
//! change it records.
//!
//! Residents pay into the property's hands, never the merchant's: a payment
//! debits WeChat clearing and credits the community's escrow (tagged with the
//! order); a refund takes the money back out of escrow; settlement moves it
//! to the merchant's payable balance (less any commission). Every movement is
//! one [`Entry`] whose lines sum to zero, posted with [`post`]:
//!
//! - an entry's key names the business fact (`payment:<order>`), and a fact
//!   already recorded is not recorded again, so retries, duplicate
//!   notifications and two sweepers racing cannot double-count;
//! - merchants' and wallets' balances are kept on their account row and may
//!   never go negative (a guarded update, and a database check behind it);
//!   the company-wide accounts every payment touches keep no balance row, so
//!   no payment waits on another's lock: their balance is the sum of their
//!   lines.
//!
//! [`verify`] checks every invariant (`anjia ledger verify`).

use std::collections::BTreeMap;

use entity::{
    CommunityId, Fen, HouseholdId, JournalEntryId, JournalKind, JournalLineId, LedgerAccountId,
    LedgerAccountKind, MerchantId, OrderId, UserId, journal_entry, journal_line, ledger_account,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbBackend, EntityTrait, Set, Statement};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::kernel::clock;
use crate::kernel::db::sql;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

mod verify;

pub use verify::{Report, verify};

/// A ledger account: its kind and whose it is (the nil UUID for the
/// company's own accounts), and for a merchant's, in which community.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Account {
    pub kind: LedgerAccountKind,
    pub owner: Uuid,
    pub community: Option<CommunityId>,
}

impl Account {
    /// Money the property holds at WeChat Pay.
    pub const fn wechat_clearing() -> Self {
        Self::company(LedgerAccountKind::WechatClearing)
    }

    /// Refunds decided, not yet confirmed by the provider.
    pub const fn refunds_in_flight() -> Self {
        Self::company(LedgerAccountKind::RefundsInFlight)
    }

    /// What WeChat Pay kept as its fees, less what it returned.
    pub const fn provider_fees() -> Self {
        Self::company(LedgerAccountKind::ProviderFees)
    }

    /// Residents' payments held for a community's orders.
    pub fn escrow(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::Escrow, community.as_uuid())
    }

    /// What the property earns from a community's orders: commission on
    /// merchants' sales, and its own sales (邻里专属).
    pub fn property_revenue(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::PropertyRevenue, community.as_uuid())
    }

    pub fn fee_revenue(community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::FeeRevenue, community.as_uuid())
    }

    /// What the property owes a merchant for its sales in one community.
    pub fn merchant_payable(merchant: MerchantId, community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::MerchantPayable, merchant.as_uuid()).in_community(community)
    }

    /// A merchant's payouts approved from one community's balance, not yet
    /// paid.
    pub fn payouts_in_flight(merchant: MerchantId, community: CommunityId) -> Self {
        Self::of(LedgerAccountKind::PayoutsInFlight, merchant.as_uuid()).in_community(community)
    }

    /// A merchant's one balance for all its communities, as it was kept
    /// before migration 24 moved it into per-community accounts; it holds
    /// nothing since (`verify` checks), and only history names it.
    pub fn merchant_wide(kind: LedgerAccountKind, merchant: MerchantId) -> Self {
        Self::of(kind, merchant.as_uuid())
    }

    const fn in_community(mut self, community: CommunityId) -> Self {
        self.community = Some(community);
        self
    }

    pub fn household_wallet(household: HouseholdId) -> Self {
        Self::of(LedgerAccountKind::HouseholdWallet, household.as_uuid())
    }

    pub fn fee_receivable(household: HouseholdId) -> Self {
        Self::of(LedgerAccountKind::FeeReceivable, household.as_uuid())
    }

    const fn company(kind: LedgerAccountKind) -> Self {
        Self::of(kind, Uuid::nil())
    }

    const fn of(kind: LedgerAccountKind, owner: Uuid) -> Self {
        Self {
            kind,
            owner,
            community: None,
        }
    }

    /// The account's id, derived from its kind, owner and community: every
    /// instance names the same account the same way without looking it up.
    pub fn id(&self) -> LedgerAccountId {
        let mut digest = Sha256::new()
            .chain_update(b"anjia-ledger-account\0")
            .chain_update(self.kind.as_str().as_bytes())
            .chain_update([0])
            .chain_update(self.owner.as_bytes());
        if let Some(c) = self.community {
            digest = digest
                .chain_update([0])
                .chain_update(c.as_uuid().as_bytes());
        }
        let digest = digest.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        LedgerAccountId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

/// One line: debit positive, credit negative.
#[derive(Clone, Copy, Debug)]
struct Line {
    account: Account,
    amount: i64,
}

/// A journal entry being built: `Entry::new(kind, key).debit(..).credit(..)`.
#[derive(Clone, Debug)]
pub struct Entry {
    id: JournalEntryId,
    kind: JournalKind,
    key: String,
    community: Option<CommunityId>,
    order: Option<OrderId>,
    subject: Option<Uuid>,
    memo: String,
    by: Option<UserId>,
    lines: Vec<Line>,
}

impl Entry {
    /// `key` names the business fact; posting the same key twice records it
    /// once.
    pub fn new(kind: JournalKind, key: impl Into<String>) -> Self {
        Self {
            id: JournalEntryId::new(),
            kind,
            key: key.into(),
            community: None,
            order: None,
            subject: None,
            memo: String::new(),
            by: None,
            lines: Vec::new(),
        }
    }

    /// The order the money belongs to: every line is tagged with it, which
    /// is how escrow is tracked per order.
    pub fn order(mut self, community: CommunityId, order: OrderId) -> Self {
        self.community = Some(community);
        self.order = Some(order);
        self
    }

    /// The refund, withdrawal or bill the entry is about.
    pub fn subject(mut self, id: impl Into<Uuid>) -> Self {
        self.subject = Some(id.into());
        self
    }

    pub fn community(mut self, community: CommunityId) -> Self {
        self.community = Some(community);
        self
    }

    pub fn memo(mut self, memo: &str) -> Self {
        self.memo = memo.chars().take(200).collect();
        self
    }

    /// The person whose action this records (absent for the system).
    pub fn by(mut self, user: Option<UserId>) -> Self {
        self.by = user;
        self
    }

    /// The id the entry is recorded under (when it is recorded).
    pub fn id(&self) -> JournalEntryId {
        self.id
    }

    /// Debits `account` (a zero amount adds no line).
    pub fn debit(self, account: Account, amount: Fen) -> Self {
        self.line(account, amount.as_i64())
    }

    /// Credits `account` (a zero amount adds no line).
    pub fn credit(self, account: Account, amount: Fen) -> Self {
        self.line(account, -amount.as_i64())
    }

    fn line(mut self, account: Account, amount: i64) -> Self {
        if amount != 0 {
            self.lines.push(Line { account, amount });
        }
        self
    }

    /// The lines sum to zero and there are at least two of them.
    fn balanced(&self) -> bool {
        self.lines.len() >= 2
            && self
                .lines
                .iter()
                .try_fold(0i64, |sum, l| sum.checked_add(l.amount))
                == Some(0)
    }
}

/// What [`post`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Posted {
    /// The entry was recorded now.
    Recorded,
    /// An entry with this key was recorded before: nothing changed.
    AlreadyRecorded,
    /// Every amount was zero: there was nothing to record.
    Nothing,
}

impl Posted {
    pub fn recorded(self) -> bool {
        self == Posted::Recorded
    }
}

/// Posts `entry` in the caller's transaction. An unbalanced entry is refused
/// (a bug, logged as such); a line that would take a merchant's or a
/// wallet's balance below zero fails the whole entry with
/// `insufficient_balance`, and the caller's transaction must roll back.
pub async fn post<C: ConnectionTrait>(db: &C, entry: Entry) -> ApiResult<Posted> {
    if entry.lines.is_empty() {
        return Ok(Posted::Nothing);
    }
    if !entry.balanced() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "refused an unbalanced ledger entry {} ({:?})",
            entry.key,
            entry.lines
        )));
    }
    let now = clock::now();
    let entry_id = entry.id;
    let inserted = journal_entry::Entity::insert(journal_entry::ActiveModel {
        id: Set(entry_id),
        kind: Set(entry.kind),
        key: Set(entry.key.clone()),
        community_id: Set(entry.community),
        order_id: Set(entry.order),
        subject_id: Set(entry.subject),
        memo: Set(entry.memo.clone()),
        created_by: Set(entry.by),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(journal_entry::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 0 {
        return Ok(Posted::AlreadyRecorded);
    }

    apply_lines(db, now, &[(entry_id, &entry)]).await?;
    Ok(Posted::Recorded)
}

/// Rows per multi-row insert (well under PostgreSQL's 65,535 parameters).
const CHUNK: usize = 2_000;

/// Posts many entries at once (the settlement job): one insert for the
/// entries, one for the accounts, one guarded update per guarded account,
/// and the lines in chunks. Every entry must be new: a key recorded before
/// fails the whole call (the caller claimed the work, so that is a bug) and
/// the caller's transaction must roll back. Returns how many were posted.
pub async fn post_many<C: ConnectionTrait>(db: &C, entries: Vec<Entry>) -> ApiResult<usize> {
    let entries: Vec<Entry> = entries
        .into_iter()
        .filter(|e| !e.lines.is_empty())
        .collect();
    if let Some(bad) = entries.iter().find(|e| !e.balanced()) {
        return Err(ApiError::internal(anyhow::anyhow!(
            "refused an unbalanced ledger entry {} ({:?})",
            bad.key,
            bad.lines
        )));
    }
    let now = clock::now();
    let ids: Vec<(JournalEntryId, &Entry)> = entries.iter().map(|e| (e.id, e)).collect();
    if db.get_database_backend() == DbBackend::Postgres {
        // One JSON parameter instead of nine per row: PostgreSQL parses and
        // plans a large batch far faster this way.
        let rows: Vec<serde_json::Value> = ids
            .iter()
            .map(|(id, e)| {
                serde_json::json!({
                    "id": id, "kind": e.kind.as_str(), "key": e.key, "community_id": e.community,
                    "order_id": e.order, "subject_id": e.subject, "memo": e.memo, "created_by": e.by,
                })
            })
            .collect();
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO journal_entries (id, kind, key, community_id, order_id, subject_id, memo, created_by, created_at) \
             SELECT id, kind, key, community_id, order_id, subject_id, memo, created_by, $2 \
             FROM json_to_recordset($1::json) AS r(id uuid, kind text, key text, community_id uuid, \
             order_id uuid, subject_id uuid, memo text, created_by uuid)",
            [serde_json::Value::Array(rows).to_string().into(), now.into()],
        ))
        .await?;
    } else {
        for chunk in ids.chunks(CHUNK) {
            journal_entry::Entity::insert_many(chunk.iter().map(|(id, e)| {
                journal_entry::ActiveModel {
                    id: Set(*id),
                    kind: Set(e.kind),
                    key: Set(e.key.clone()),
                    community_id: Set(e.community),
                    order_id: Set(e.order),
                    subject_id: Set(e.subject),
                    memo: Set(e.memo.clone()),
                    created_by: Set(e.by),
                    created_at: Set(now),
                }
            }))
            .exec_without_returning(db)
            .await?;
        }
    }
    apply_lines(db, now, &ids).await?;
    Ok(ids.len())
}

/// Writes the lines of freshly inserted entries: creates the accounts they
/// touch, moves guarded balances (refusing any that would go negative), and
/// inserts the lines.
async fn apply_lines<C: ConnectionTrait>(
    db: &C,
    now: chrono::DateTime<chrono::Utc>,
    entries: &[(JournalEntryId, &Entry)],
) -> ApiResult<()> {
    // Net change per account, in id order (so two transactions touching the
    // same guarded accounts lock them in the same order).
    let mut deltas: BTreeMap<LedgerAccountId, (Account, i64)> = BTreeMap::new();
    for (_, entry) in entries {
        for line in &entry.lines {
            let (_, delta) = deltas.entry(line.account.id()).or_insert((line.account, 0));
            *delta += line.amount;
        }
    }
    let accounts: Vec<(&LedgerAccountId, &Account)> = deltas
        .iter()
        .map(|(id, (account, _))| (id, account))
        .collect();
    // Accounts of a community are inserted apart from the others, which
    // leave `community_id` out (so history written by tests against an
    // older schema still posts).
    let (scoped, unscoped): (Vec<_>, Vec<_>) = accounts
        .into_iter()
        .partition(|(_, a)| a.community.is_some());
    for group in [scoped, unscoped] {
        for chunk in group.chunks(CHUNK) {
            ledger_account::Entity::insert_many(chunk.iter().map(|(id, account)| {
                ledger_account::ActiveModel {
                    id: Set(**id),
                    kind: Set(account.kind),
                    owner_id: Set(account.owner),
                    community_id: match account.community {
                        Some(c) => Set(Some(c)),
                        None => NotSet,
                    },
                    balance: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
            }))
            .on_conflict(
                OnConflict::column(ledger_account::Column::Id)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        }
    }
    let backend = db.get_database_backend();
    for (id, (account, delta)) in &deltas {
        if !account.kind.never_negative() || *delta == 0 {
            continue;
        }
        let change = delta * account.kind.sign();
        let done = db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "UPDATE ledger_accounts SET balance = balance + $1, updated_at = $2 \
                     WHERE id = $3 AND balance + $1 >= 0",
                ),
                [change.into(), now.into(), id.as_uuid().into()],
            ))
            .await?
            .rows_affected();
        if done != 1 {
            let available = balance(db, *account).await?;
            return Err(ApiError::new(
                ErrorCode::InsufficientBalance,
                format!(
                    "the balance is {} but {} is needed",
                    crate::kernel::money::fen(available, "a balance")?,
                    crate::kernel::money::fen(-change, "a change of balance")?
                ),
            )
            .with_details(serde_json::json!({ "available": available, "needed": -change })));
        }
    }
    if backend == DbBackend::Postgres {
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .flat_map(|(entry_id, entry)| {
                entry.lines.iter().map(move |l| {
                    serde_json::json!([
                        JournalLineId::new(),
                        entry_id,
                        l.account.id(),
                        entry.order,
                        l.amount
                    ])
                })
            })
            .collect();
        db.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO journal_lines (id, entry_id, account_id, order_id, amount) \
             SELECT (r->>0)::uuid, (r->>1)::uuid, (r->>2)::uuid, (r->>3)::uuid, (r->>4)::bigint \
             FROM json_array_elements($1::json) AS r",
            [serde_json::Value::Array(rows).to_string().into()],
        ))
        .await?;
        return Ok(());
    }
    let lines: Vec<journal_line::ActiveModel> = entries
        .iter()
        .flat_map(|(entry_id, entry)| {
            entry.lines.iter().map(move |l| journal_line::ActiveModel {
                id: Set(JournalLineId::new()),
                entry_id: Set(*entry_id),
                account_id: Set(l.account.id()),
                order_id: Set(entry.order),
                amount: Set(l.amount),
            })
        })
        .collect();
    let mut lines = lines.into_iter().peekable();
    while lines.peek().is_some() {
        let chunk: Vec<journal_line::ActiveModel> = lines.by_ref().take(CHUNK).collect();
        journal_line::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// An account's balance in its natural sign (what a merchant is owed, what
/// a wallet holds, what escrow holds): the kept balance for guarded
/// accounts, the sum of the lines for the others.
pub async fn balance<C: ConnectionTrait>(db: &C, account: Account) -> ApiResult<i64> {
    let backend = db.get_database_backend();
    let id = account.id().as_uuid();
    let statement = if account.kind.never_negative() {
        "SELECT balance AS amount FROM ledger_accounts WHERE id = $1"
    } else {
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount FROM journal_lines WHERE account_id = $1"
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(backend, statement),
            [id.into()],
        ))
        .await?;
    let raw: i64 = match row {
        Some(r) => r.try_get("", "amount")?,
        None => 0,
    };
    Ok(if account.kind.never_negative() {
        raw
    } else {
        raw * account.kind.sign()
    })
}

/// What escrow holds for one order: what its own entries (payment,
/// refunds) put in and took out, less what it settled for. A settlement
/// entry takes a whole batch's escrow out on one line; `order_settlements`
/// says how much of it was each order's (and `verify` checks that the two
/// agree).
pub async fn escrow_of<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    order: OrderId,
) -> ApiResult<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "SELECT CAST(COALESCE((SELECT -SUM(l.amount) FROM journal_lines l \
                   JOIN journal_entries e ON e.id = l.entry_id \
                   WHERE l.order_id = $1 AND l.account_id = $2 AND e.kind <> $3), 0) \
                 - COALESCE((SELECT s.gross FROM order_settlements s WHERE s.order_id = $1), 0) \
                 AS BIGINT) AS amount",
            ),
            [
                order.as_uuid().into(),
                Account::escrow(community).id().as_uuid().into(),
                JournalKind::Settlement.as_str().into(),
            ],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get("", "amount")?,
        None => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_s_id_depends_on_its_kind_and_owner_only() {
        let community = CommunityId::new();
        assert_eq!(
            Account::escrow(community).id(),
            Account::escrow(community).id()
        );
        assert_ne!(
            Account::escrow(community).id(),
            Account::property_revenue(community).id()
        );
        assert_ne!(
            Account::escrow(community).id(),
            Account::escrow(CommunityId::new()).id()
        );
    }

    #[test]
    fn an_entry_balances_only_when_its_lines_sum_to_zero() {
        let c = CommunityId::new();
        let fen = |v| Fen::new(v).unwrap();
        let good = Entry::new(JournalKind::Payment, "k")
            .debit(Account::wechat_clearing(), fen(500))
            .credit(Account::escrow(c), fen(500));
        assert!(good.balanced());
        let bad = Entry::new(JournalKind::Payment, "k")
            .debit(Account::wechat_clearing(), fen(500))
            .credit(Account::escrow(c), fen(499));
        assert!(!bad.balanced());
        let one_sided =
            Entry::new(JournalKind::Payment, "k").debit(Account::wechat_clearing(), fen(1));
        assert!(!one_sided.balanced());
        let zero = Entry::new(JournalKind::Payment, "k")
            .debit(Account::wechat_clearing(), Fen::ZERO)
            .credit(Account::escrow(c), Fen::ZERO);
        assert!(zero.lines.is_empty());
    }
}
