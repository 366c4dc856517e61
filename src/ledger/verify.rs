//! Every invariant of the ledger, checked against the database
//! (`anjia ledger verify`; the tests run it after every money flow).

use entity::{JournalKind, LedgerAccountKind, OrderStatus, RefundStatus};
use sea_orm::ConnectionTrait;

use crate::kernel::error::ApiResult;

mod merchants;
mod report;

pub use report::Report;
use report::rows;

/// Checks that: each entry has two or more lines summing to zero; merchants'
/// and wallets' kept balances equal the sum of their lines and are not
/// negative; no order's escrow (its own entries' escrow lines, less what it
/// settled for) is negative and the escrow of every closed order (cancelled, expired, rejected, refunded, or settled) is zero; every
/// completed order waits to settle or has settled, each settled order
/// settled for what escrow held for it, to its own merchant, and each
/// settlement entry took out of escrow what its orders settled for and
/// credited the property their commissions and their merchant the rest (in
/// the orders' community); what each merchant earned in each community is
/// what it holds, has on its way out and was paid there, and each
/// withdrawal's parts add up to it (`merchants`); each
/// paid order's payment is recorded exactly once, for its amount, and no
/// unpaid order has one; each refund's decision is recorded exactly once,
/// for its amount, and its outcome matches its status.
pub async fn verify<C: ConnectionTrait>(db: &C) -> ApiResult<Report> {
    let mut report = Report {
        entries: count(db, "SELECT COUNT(*) AS n FROM journal_entries").await?,
        lines: count(db, "SELECT COUNT(*) AS n FROM journal_lines").await?,
        accounts: count(db, "SELECT COUNT(*) AS n FROM ledger_accounts").await?,
        problems: Vec::new(),
    };

    let unbalanced = rows(
        db,
        "SELECT e.key AS what, CAST(COALESCE(SUM(l.amount), 0) AS BIGINT) AS a, COUNT(l.id) AS b \
         FROM journal_entries e LEFT JOIN journal_lines l ON l.entry_id = e.id \
         GROUP BY e.id, e.key HAVING COALESCE(SUM(l.amount), 0) <> 0 OR COUNT(l.id) < 2",
        vec![],
    )
    .await?;
    report.note(unbalanced, |(key, sum, n)| {
        format!("entry {key} is unbalanced: {n} lines summing to {sum}")
    });

    for kind in [
        LedgerAccountKind::MerchantPayable,
        LedgerAccountKind::HouseholdWallet,
    ] {
        debug_assert!(kind.never_negative());
        let wrong = rows(
            db,
            "SELECT a.owner_id AS what, a.balance AS a, \
             CAST(COALESCE(SUM(l.amount), 0) AS BIGINT) AS b \
             FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id \
             WHERE a.kind = $1 GROUP BY a.id, a.owner_id, a.balance \
             HAVING a.balance <> $2 * COALESCE(SUM(l.amount), 0) OR a.balance < 0",
            vec![kind.as_str().into(), kind.sign().into()],
        )
        .await?;
        report.note(wrong, |(owner, balance, sum)| {
            format!(
                "{kind} account of {owner} keeps a balance of {balance} but its lines come to {}",
                sum * kind.sign()
            )
        });
    }

    let closed = [
        OrderStatus::Cancelled,
        OrderStatus::Expired,
        OrderStatus::Rejected,
        OrderStatus::Refunded,
    ];
    let escrow = rows(
        db,
        &format!(
            "SELECT o.order_no AS what, CAST(-SUM(l.amount) - COALESCE(s.gross, 0) AS BIGINT) AS a, \
             CAST(CASE WHEN o.status IN ({}) OR s.order_id IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) AS b \
             FROM journal_lines l JOIN ledger_accounts acc ON acc.id = l.account_id \
             JOIN journal_entries e ON e.id = l.entry_id \
             JOIN orders o ON o.id = l.order_id \
             LEFT JOIN order_settlements s ON s.order_id = o.id WHERE acc.kind = $1 AND e.kind <> $2 \
             GROUP BY o.id, o.order_no, o.status, s.order_id, s.gross \
             HAVING -SUM(l.amount) - COALESCE(s.gross, 0) < 0 \
             OR ((o.status IN ({0}) OR s.order_id IS NOT NULL) AND -SUM(l.amount) - COALESCE(s.gross, 0) <> 0)",
            quoted(closed.iter().map(|s| s.as_str()))
        ),
        vec![
            LedgerAccountKind::Escrow.as_str().into(),
            JournalKind::Settlement.as_str().into(),
        ],
    )
    .await?;
    report.note(escrow, |(order, held, closed)| {
        if closed == 1 {
            format!("order {order} is closed but escrow still holds {held}")
        } else {
            format!("order {order} has a negative escrow of {held}")
        }
    });

    // Every completed order either waits to settle or has settled, and only
    // completed ones wait.
    let queue = rows(
        db,
        "SELECT o.order_no AS what, \
         CAST(CASE WHEN q.order_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS a, \
         CAST(CASE WHEN s.order_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS b \
         FROM orders o LEFT JOIN settlement_queue q ON q.order_id = o.id \
         LEFT JOIN order_settlements s ON s.order_id = o.id \
         WHERE (o.status = $1 AND q.order_id IS NULL AND s.order_id IS NULL) \
         OR (q.order_id IS NOT NULL AND (o.status <> $1 OR s.order_id IS NOT NULL))",
        vec![OrderStatus::Completed.as_str().into()],
    )
    .await?;
    report.note(queue, |(order, queued, settled)| match (queued, settled) {
        (0, _) => format!("order {order} is completed but neither waits to settle nor has settled"),
        (_, 1) => format!("order {order} has settled but still waits to settle"),
        _ => format!("order {order} waits to settle but is not completed"),
    });

    // Each settlement entry took out of escrow what its orders settled for
    // and credited the property their commissions (the merchant's net
    // follows: the entry balances). With the escrow check above, every
    // settled order's part is exactly what escrow held for it.
    let settled = rows(
        db,
        "SELECT e.key AS what, \
         COALESCE((SELECT CAST(SUM(s.gross) AS BIGINT) FROM order_settlements s \
           WHERE s.entry_id = e.id), 0) AS a, \
         COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN ledger_accounts acc ON acc.id = l.account_id \
           WHERE l.entry_id = e.id AND acc.kind = $2), 0) AS b \
         FROM journal_entries e WHERE e.kind = $1",
        vec![
            JournalKind::Settlement.as_str().into(),
            LedgerAccountKind::Escrow.as_str().into(),
        ],
    )
    .await?
    .into_iter()
    .filter(|(_, gross, taken)| gross != taken)
    .collect();
    report.note(settled, |(entry, gross, taken)| {
        format!(
            "settlement {entry}: its orders settled for {gross} but it took {taken} out of escrow"
        )
    });
    // Every settled order settled for exactly what escrow held for it (the
    // check above sees only orders with escrow lines of their own), to its
    // own community and merchant.
    let parts = rows(
        db,
        "SELECT o.order_no AS what, s.gross AS a, \
         COALESCE((SELECT CAST(-SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN ledger_accounts acc ON acc.id = l.account_id \
           JOIN journal_entries e ON e.id = l.entry_id \
           WHERE l.order_id = s.order_id AND acc.kind = $1 AND e.kind <> $2), 0) \
         + CASE WHEN s.community_id = o.community_id AND (s.merchant_id = o.merchant_id \
             OR (s.merchant_id IS NULL AND o.merchant_id IS NULL)) THEN 0 ELSE 1 END AS b \
         FROM order_settlements s JOIN orders o ON o.id = s.order_id",
        vec![
            LedgerAccountKind::Escrow.as_str().into(),
            JournalKind::Settlement.as_str().into(),
        ],
    )
    .await?
    .into_iter()
    .filter(|(_, gross, held)| gross != held)
    .collect();
    report.note(parts, |(order, gross, held)| {
        format!("order {order} settled for {gross} but escrow held {held} for it (or it settled to someone else's account)")
    });
    // Each settlement entry credited each of its orders' merchants their
    // net, and no other merchant.
    let mut nets = rows(
        db,
        "SELECT e.key AS what, CAST(SUM(s.gross - s.commission) AS BIGINT) AS a, \
         COALESCE((SELECT CAST(-SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN ledger_accounts acc ON acc.id = l.account_id \
           WHERE l.entry_id = s.entry_id AND acc.kind = $1 AND acc.owner_id = s.merchant_id \
           AND (acc.community_id = s.community_id OR acc.community_id IS NULL)), 0) AS b \
         FROM order_settlements s JOIN journal_entries e ON e.id = s.entry_id \
         WHERE s.merchant_id IS NOT NULL GROUP BY s.entry_id, s.merchant_id, s.community_id, e.key",
        vec![LedgerAccountKind::MerchantPayable.as_str().into()],
    )
    .await?
    .into_iter()
    .filter(|(_, net, credited)| net != credited)
    .collect::<Vec<_>>();
    nets.extend(
        rows(
            db,
            "SELECT e.key AS what, CAST(0 AS BIGINT) AS a, CAST(-l.amount AS BIGINT) AS b \
             FROM journal_lines l JOIN ledger_accounts acc ON acc.id = l.account_id \
             JOIN journal_entries e ON e.id = l.entry_id \
             WHERE e.kind = $1 AND acc.kind = $2 \
             AND EXISTS (SELECT 1 FROM order_settlements s WHERE s.entry_id = e.id) \
             AND NOT EXISTS (SELECT 1 FROM order_settlements s \
               WHERE s.entry_id = e.id AND s.merchant_id = acc.owner_id \
               AND (acc.community_id = s.community_id OR acc.community_id IS NULL))",
            vec![
                JournalKind::Settlement.as_str().into(),
                LedgerAccountKind::MerchantPayable.as_str().into(),
            ],
        )
        .await?,
    );
    report.note(nets, |(entry, net, credited)| {
        format!("settlement {entry}: its orders' merchant is owed {net} but it credited {credited}")
    });
    let orphans = rows(
        db,
        "SELECT s.order_id AS what, CAST(0 AS BIGINT) AS a, CAST(0 AS BIGINT) AS b \
         FROM order_settlements s WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = s.order_id) \
         OR (s.entry_id IS NULL AND s.gross <> 0) \
         OR (s.entry_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = s.entry_id))",
        vec![],
    )
    .await?;
    report.note(orphans, |(order, _, _)| {
        format!("the settlement of order {order} names no order or no entry")
    });
    let commissions = rows(
        db,
        "SELECT e.key AS what, \
         COALESCE((SELECT CAST(SUM(s.commission) AS BIGINT) FROM order_settlements s \
           WHERE s.entry_id = e.id), 0) AS a, \
         COALESCE((SELECT CAST(-SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN ledger_accounts acc ON acc.id = l.account_id \
           WHERE l.entry_id = e.id AND acc.kind = $2), 0) AS b \
         FROM journal_entries e WHERE e.kind = $1",
        vec![
            JournalKind::Settlement.as_str().into(),
            LedgerAccountKind::PropertyRevenue.as_str().into(),
        ],
    )
    .await?
    .into_iter()
    .filter(|(_, kept, credited)| kept != credited)
    .collect();
    report.note(commissions, |(entry, kept, credited)| {
        format!("settlement {entry}: its orders' commissions come to {kept} but it credited the property {credited}")
    });

    merchants::check(db, &mut report).await?;

    let payments = rows(
        db,
        "SELECT o.order_no AS what, \
         (SELECT COUNT(*) FROM journal_entries e WHERE e.order_id = o.id AND e.kind = $1) AS a, \
         COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN journal_entries e ON e.id = l.entry_id \
           WHERE e.order_id = o.id AND e.kind = $1 AND l.amount > 0), 0) - o.amount AS b \
         FROM orders o \
         WHERE (o.paid_at IS NOT NULL AND NOT (\
             (SELECT COUNT(*) FROM journal_entries e WHERE e.order_id = o.id AND e.kind = $1) = 1 \
             AND COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM journal_lines l \
               JOIN journal_entries e ON e.id = l.entry_id \
               WHERE e.order_id = o.id AND e.kind = $1 AND l.amount > 0), 0) = o.amount)) \
         OR (o.paid_at IS NULL AND EXISTS \
             (SELECT 1 FROM journal_entries e WHERE e.order_id = o.id AND e.kind = $1))",
        vec![JournalKind::Payment.as_str().into()],
    )
    .await?;
    report.note(payments, |(order, n, off)| match n {
        0 => format!("order {order} was paid but its payment is not in the ledger"),
        1 if off != 0 => format!("order {order}'s payment is recorded {off} fen off its amount"),
        1 => format!("order {order} was never paid but the ledger has a payment for it"),
        n => format!("order {order}'s payment is recorded {n} times"),
    });

    let refunds = rows(
        db,
        "SELECT r.id AS what, \
         COALESCE((SELECT CAST(SUM(l.amount) AS BIGINT) FROM journal_lines l \
           JOIN journal_entries e ON e.id = l.entry_id \
           WHERE e.subject_id = r.id AND e.kind = $1 AND l.amount > 0), 0) - r.amount AS a, \
         (SELECT COUNT(*) FROM journal_entries e WHERE e.subject_id = r.id AND e.kind = $1) * 100 \
         + (SELECT COUNT(*) FROM journal_entries e WHERE e.subject_id = r.id AND e.kind = $2) * 10 \
         + (SELECT COUNT(*) FROM journal_entries e WHERE e.subject_id = r.id AND e.kind = $3) \
         - CASE r.status WHEN $4 THEN 110 WHEN $5 THEN 101 WHEN $6 THEN 101 ELSE 100 END AS b \
         FROM refunds r",
        vec![
            JournalKind::RefundDecided.as_str().into(),
            JournalKind::RefundSucceeded.as_str().into(),
            JournalKind::RefundFailed.as_str().into(),
            RefundStatus::Succeeded.as_str().into(),
            RefundStatus::Failed.as_str().into(),
            RefundStatus::Retried.as_str().into(),
        ],
    )
    .await?
    .into_iter()
    .filter(|(_, off, counts)| *off != 0 || *counts != 0)
    .collect();
    report.note(refunds, |(refund, off, counts)| {
        if counts != 0 {
            format!("refund {refund}: its decision and outcome are not each recorded once")
        } else {
            format!("refund {refund}'s decision is recorded {off} fen off its amount")
        }
    });
    Ok(report)
}

fn quoted<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn count<C: ConnectionTrait>(db: &C, statement: &str) -> ApiResult<i64> {
    let row = crate::kernel::db::query_one(db, statement, []).await?;
    Ok(match row {
        Some(r) => r.try_get("", "n")?,
        None => 0,
    })
}
