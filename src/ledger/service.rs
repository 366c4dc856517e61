//! Posting to the ledger: an [`Entry`] whose lines sum to zero, recorded
//! once per business fact, in the caller's transaction; and the balances
//! it keeps.

use std::collections::BTreeMap;

use entity::{
    Balance, CommunityId, Fen, JournalEntryId, JournalKind, JournalLineId, LedgerAccountId,
    OrderId, UserId, journal_entry, journal_line, ledger_account,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::NotSet, ConnectionTrait, DbBackend, EntityTrait, Set};
use uuid::Uuid;

use super::account::Account;
use crate::kernel::clock;
use crate::kernel::db;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// One line: debit positive, credit negative.
#[derive(Clone, Copy, Debug)]
struct Line {
    account: Account,
    amount: Balance,
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
        self.line(account, Balance::from(amount))
    }

    /// Credits `account` (a zero amount adds no line).
    pub fn credit(self, account: Account, amount: Fen) -> Self {
        // An amount is at most `MAX_FEN`: its negative is a balance.
        self.line(account, Balance::new(-amount.as_i64()))
    }

    fn line(mut self, account: Account, amount: Balance) -> Self {
        if amount != Balance::ZERO {
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
                .try_fold(Balance::ZERO, |sum, l| sum.checked_add(l.amount))
                == Some(Balance::ZERO)
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
        db::execute(
            db,
            "INSERT INTO journal_entries (id, kind, key, community_id, order_id, subject_id, memo, created_by, created_at) \
             SELECT id, kind, key, community_id, order_id, subject_id, memo, created_by, $2 \
             FROM json_to_recordset($1::json) AS r(id uuid, kind text, key text, community_id uuid, \
             order_id uuid, subject_id uuid, memo text, created_by uuid)",
            [serde_json::Value::Array(rows).to_string().into(), now.into()],
        )
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
    let mut deltas: BTreeMap<LedgerAccountId, (Account, Balance)> = BTreeMap::new();
    for (_, entry) in entries {
        for line in &entry.lines {
            let (_, delta) = deltas
                .entry(line.account.id())
                .or_insert((line.account, Balance::ZERO));
            *delta = delta
                .checked_add(line.amount)
                .ok_or_else(|| out_of_range(line.account))?;
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
        if !account.kind.never_negative() || *delta == Balance::ZERO {
            continue;
        }
        let change = natural(*delta, *account)?;
        let done = db::execute(
            db,
            "UPDATE ledger_accounts SET balance = balance + $1, updated_at = $2 \
             WHERE id = $3 AND balance + $1 >= 0",
            [change.into(), now.into(), id.as_uuid().into()],
        )
        .await?
        .rows_affected();
        if done != 1 {
            let available = balance(db, *account).await?;
            let needed = change.checked_neg().ok_or_else(|| out_of_range(*account))?;
            return Err(ApiError::new(
                ErrorCode::InsufficientBalance,
                format!(
                    "the balance is {} but {} is needed",
                    crate::kernel::money::fen(available, "a balance")?,
                    crate::kernel::money::fen(needed, "a change of balance")?
                ),
            )
            .with_details(serde_json::json!({ "available": available, "needed": needed })));
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
        db::execute(
            db,
            "INSERT INTO journal_lines (id, entry_id, account_id, order_id, amount) \
             SELECT (r->>0)::uuid, (r->>1)::uuid, (r->>2)::uuid, (r->>3)::uuid, (r->>4)::bigint \
             FROM json_array_elements($1::json) AS r",
            [serde_json::Value::Array(rows).to_string().into()],
        )
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
                amount: Set(l.amount.as_i64()),
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

/// A sum of lines beyond what a balance holds: a broken invariant.
fn out_of_range(account: Account) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "the balance of {} account {} is out of range",
        account.kind,
        account.owner
    ))
}

/// `raw` (the sum of an account's lines, debits positive) in the account's
/// natural sign: what a merchant is owed, what a wallet holds.
fn natural(raw: Balance, account: Account) -> ApiResult<Balance> {
    if account.kind.sign() < 0 {
        raw.checked_neg().ok_or_else(|| out_of_range(account))
    } else {
        Ok(raw)
    }
}

/// An account's balance in its natural sign (what a merchant is owed, what
/// a wallet holds, what escrow holds): the kept balance for guarded
/// accounts, the sum of the lines for the others.
pub async fn balance<C: ConnectionTrait>(db: &C, account: Account) -> ApiResult<Balance> {
    let id = account.id().as_uuid();
    let statement = if account.kind.never_negative() {
        "SELECT balance AS amount FROM ledger_accounts WHERE id = $1"
    } else {
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS amount FROM journal_lines WHERE account_id = $1"
    };
    let raw: Balance = match db::query_one(db, statement, [id.into()]).await? {
        Some(r) => r.try_get("", "amount")?,
        None => Balance::ZERO,
    };
    if account.kind.never_negative() {
        Ok(raw)
    } else {
        natural(raw, account)
    }
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
) -> ApiResult<Balance> {
    let row = db::query_one(
        db,
        "SELECT CAST(COALESCE((SELECT -SUM(l.amount) FROM journal_lines l \
           JOIN journal_entries e ON e.id = l.entry_id \
           WHERE l.order_id = $1 AND l.account_id = $2 AND e.kind <> $3), 0) \
         - COALESCE((SELECT s.gross FROM order_settlements s WHERE s.order_id = $1), 0) \
         AS BIGINT) AS amount",
        [
            order.as_uuid().into(),
            Account::escrow(community).id().as_uuid().into(),
            JournalKind::Settlement.as_str().into(),
        ],
    )
    .await?;
    Ok(match row {
        Some(r) => r.try_get("", "amount")?,
        None => Balance::ZERO,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
