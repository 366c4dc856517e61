//! Merchants' money is kept per community: what a merchant earned in a
//! community is what it may still withdraw there, what is on its way out,
//! and what was paid out from there, to the fen. This holds across the
//! move from one merchant-wide balance to per-community ones (migration 24),
//! whose allocation of older payouts it proves.

use entity::{JournalKind, LedgerAccountKind, WithdrawalStatus};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::report::{Report, rows};
use crate::kernel::db;
use crate::kernel::error::ApiResult;

pub(super) async fn check<C: ConnectionTrait>(db: &C, report: &mut Report) -> ApiResult<()> {
    let payable = LedgerAccountKind::MerchantPayable.as_str();
    let in_flight = LedgerAccountKind::PayoutsInFlight.as_str();

    // Nothing is left on a merchant-wide account.
    let wide = rows(
        db,
        "SELECT a.owner_id AS what, CAST(COALESCE(-SUM(l.amount), 0) AS BIGINT) AS a, \
         CAST(0 AS BIGINT) AS b FROM ledger_accounts a JOIN journal_lines l ON l.account_id = a.id \
         WHERE a.kind IN ($1, $2) AND a.community_id IS NULL \
         GROUP BY a.id, a.owner_id HAVING SUM(l.amount) <> 0",
        vec![payable.into(), in_flight.into()],
    )
    .await?;
    report.note(wide, |(merchant, held, _)| {
        format!("merchant {merchant} still holds {held} on an account of no community")
    });

    // Each withdrawal is paid by its communities' parts, and its own
    // community is one of them.
    let parts = rows(
        db,
        "SELECT w.id AS what, w.amount AS a, \
         COALESCE((SELECT CAST(SUM(x.amount) AS BIGINT) FROM withdrawal_allocations x \
           WHERE x.withdrawal_id = w.id), 0) \
         + CASE WHEN EXISTS (SELECT 1 FROM withdrawal_allocations x \
             WHERE x.withdrawal_id = w.id AND x.community_id = w.community_id) THEN 0 ELSE 1 END AS b \
         FROM withdrawals w",
        vec![],
    )
    .await?
    .into_iter()
    .filter(|(_, amount, parts)| amount != parts)
    .collect();
    report.note(parts, |(w, amount, parts)| {
        format!("withdrawal {w} of {amount} is allocated {parts} (or not to its own community)")
    });

    // Per merchant and community: earned (settlements, wherever they were
    // posted) = still available + on its way out + paid out; and what is on
    // its way out is exactly the open withdrawals' parts there.
    let found = db::query_all(
        db,
        "SELECT m, c, CAST(SUM(earned) AS BIGINT) AS earned, CAST(SUM(kept) AS BIGINT) AS kept, \
                 CAST(SUM(flying) AS BIGINT) AS flying, CAST(SUM(open_parts) AS BIGINT) AS open_parts FROM ( \
                   SELECT a.owner_id AS m, COALESCE(a.community_id, e.community_id) AS c, \
                     -l.amount AS earned, 0 AS kept, 0 AS flying, 0 AS open_parts \
                   FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
                   JOIN journal_entries e ON e.id = l.entry_id WHERE a.kind = $1 AND e.kind = $3 \
                   UNION ALL \
                   SELECT a.owner_id, a.community_id, 0, -l.amount, \
                     CASE WHEN a.kind = $2 THEN -l.amount ELSE 0 END, 0 \
                   FROM journal_lines l JOIN ledger_accounts a ON a.id = l.account_id \
                   WHERE a.kind IN ($1, $2) AND a.community_id IS NOT NULL \
                   UNION ALL \
                   SELECT w.merchant_id, x.community_id, 0, \
                     CASE WHEN w.status = $4 THEN x.amount ELSE 0 END, 0, \
                     CASE WHEN w.status IN ($5, $6) THEN x.amount ELSE 0 END \
                   FROM withdrawal_allocations x JOIN withdrawals w ON w.id = x.withdrawal_id \
                 ) t GROUP BY m, c \
                 HAVING SUM(earned) <> SUM(kept) OR SUM(flying) <> SUM(open_parts) OR c IS NULL",
            [
                payable.into(),
                in_flight.into(),
                JournalKind::Settlement.as_str().into(),
                WithdrawalStatus::Paid.as_str().into(),
                WithdrawalStatus::Requested.as_str().into(),
                WithdrawalStatus::Approved.as_str().into(),
            ],
        )
        .await?;
    let mut wrong = Vec::with_capacity(found.len());
    for r in found {
        wrong.push((
            r.try_get::<Uuid>("", "m")?,
            r.try_get::<Option<Uuid>>("", "c")?,
            r.try_get::<i64>("", "earned")?,
            r.try_get::<i64>("", "kept")?,
            r.try_get::<i64>("", "flying")?,
            r.try_get::<i64>("", "open_parts")?,
        ));
    }
    report.note(wrong, |(m, c, earned, kept, flying, open)| match c {
        None => format!("a settlement credits merchant {m} in no community"),
        Some(c) if earned != kept => format!(
            "merchant {m} earned {earned} in community {c} but holds, pays out and paid {kept}"
        ),
        Some(c) => format!(
            "merchant {m} has {flying} on its way out in community {c} but its open withdrawals there come to {open}"
        ),
    });
    Ok(())
}
