//! Settlement (结算): confirmed orders' money goes from escrow to their
//! merchant the same business day.
//!
//! A completed order waits in `settlement_queue` ([`order_moved`] puts it
//! there). The job ([`settle_due`]) claims queued orders confirmed before
//! the latest cutoff (`payment.settlement_cutoff` in
//! `payment.settlement_timezone`), not under a live dispute (a resolved one
//! settles what escrow still holds) and without a refund still pending or
//! failed (its money must not reach the merchant), skipping orders another
//! instance holds. In one transaction per batch it posts one settlement
//! entry per community and merchant (three lines: their escrow out, the
//! merchant's net and the property's commission in), records each order in
//! `order_settlements` (its part of the entry: what it settled for, and the
//! merchant's statement) and takes it off the queue. An order settles once:
//! `order_settlements` is keyed by the order.
//!
//! The `orders` row is not written: rewriting 5,000 wide rows (and every
//! index on them) per batch was most of a run's time (docs/benchmarks.md).

pub mod money;
pub mod withdrawals;

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use entity::{
    CommunityId, Fen, JournalKind, MerchantId, OrderId, OrderStatus, order_settlement,
    settlement_queue,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, Set,
    Value,
};

use crate::config::PaymentSettings;
use crate::kernel::db::{self, begin_write, claim_ids};
use crate::kernel::error::{ApiError, ApiResult};
use crate::ledger::{self, Account, Entry};

/// The latest cutoff at or before `now`: today's if it has passed, else
/// yesterday's (in the business time zone).
pub fn latest_cutoff(settings: &PaymentSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = settings.timezone();
    let local = now.with_timezone(&tz);
    let at = |day: NaiveDate| {
        tz.from_local_datetime(&day.and_time(settings.cutoff()))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let today = local.date_naive();
    match at(today) {
        Some(cutoff) if cutoff <= now => cutoff,
        _ => today
            .checked_sub_days(Days::new(1))
            .and_then(at)
            .unwrap_or(now),
    }
}

/// The UTC bounds of one business day.
pub fn business_day(settings: &PaymentSettings, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = settings.timezone();
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| d.and_time(chrono::NaiveTime::MIN).and_utc())
    };
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    (start(day), start(next))
}

/// A set of ids for `IN (…)`, as SQL and its values, numbered from `$first`:
/// on PostgreSQL one JSON parameter (a batch of thousands parses and plans
/// far faster that way), on SQLite one placeholder per id.
fn id_set(backend: DbBackend, first: usize, ids: &[uuid::Uuid]) -> (String, Vec<Value>) {
    if backend == DbBackend::Postgres {
        let json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
        (
            format!("SELECT value::uuid FROM json_array_elements_text(${first}::json)"),
            vec![json.into()],
        )
    } else {
        (
            (first..first + ids.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", "),
            ids.iter().map(|id| Value::from(*id)).collect(),
        )
    }
}

/// One order to settle, as read in the batch.
struct Due {
    id: OrderId,
    order_no: String,
    community: CommunityId,
    merchant: Option<MerchantId>,
    commission_bp: i64,
    held: i64,
}

/// Settles up to `batch` due orders in one transaction. Returns how many
/// were settled (0: nothing was due).
pub async fn settle_due(
    db: &DatabaseConnection,
    settings: &PaymentSettings,
    now: DateTime<Utc>,
    batch: u32,
) -> ApiResult<usize> {
    let cutoff = latest_cutoff(settings, now);
    let txn = begin_write(db).await?;
    // Locks the orders (and their queue rows): every other change to an
    // order (a dispute opened, a refund decided) takes the same lock.
    let ids: Vec<uuid::Uuid> = claim_ids(
        &txn,
        "SELECT o.id FROM settlement_queue q JOIN orders o ON o.id = q.order_id \
         WHERE q.confirmed_at <= $1 AND o.status = 'completed' \
         AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.order_id = o.id \
           AND d.status IN ('open', 'proposed', 'merchant_rejected', 'escalated')) \
         AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id \
           AND r.status IN ('pending', 'failed')) \
         ORDER BY q.confirmed_at LIMIT $2",
        vec![cutoff.into(), i64::from(batch).into()],
    )
    .await?;
    let backend = txn.get_database_backend();
    // The claim's conditions were judged on the snapshot its statement
    // started with; a dispute opened (or a refund decided) while it waited
    // for a row lock is seen only now. Opening a dispute locks the order, so
    // none can appear for the claimed (locked) orders after this.
    let ids = if ids.is_empty() {
        ids
    } else {
        let (id_list, id_values) = id_set(backend, 1, &ids);
        let held_back: Vec<uuid::Uuid> = db::query_all(
            &txn,
            &format!(
                "SELECT order_id FROM disputes WHERE order_id IN ({id_list}) \
                 AND status IN ('open', 'proposed', 'merchant_rejected', 'escalated') \
                 UNION SELECT order_id FROM refunds WHERE order_id IN ({id_list}) \
                 AND status IN ('pending', 'failed')"
            ),
            id_values,
        )
        .await?
        .into_iter()
        .map(|r| r.try_get::<uuid::Uuid>("", "order_id"))
        .collect::<Result<_, _>>()?;
        ids.into_iter()
            .filter(|id| !held_back.contains(id))
            .collect()
    };
    if ids.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let (id_list, id_values) = id_set(backend, 2, &ids);
    let mut values: Vec<Value> = vec![entity::LedgerAccountKind::Escrow.as_str().into()];
    values.extend(id_values.iter().cloned());
    let rows = db::query_all(
        &txn,
        &format!(
            "SELECT o.id, o.order_no, o.community_id, o.merchant_id, \
             CAST(COALESCE(m.commission_bp, 0) AS BIGINT) AS commission_bp, \
             CAST(COALESCE((SELECT -SUM(l.amount) FROM journal_lines l \
                JOIN ledger_accounts a ON a.id = l.account_id \
                WHERE l.order_id = o.id AND a.kind = $1), 0) AS BIGINT) AS held \
             FROM orders o LEFT JOIN merchants m ON m.id = o.merchant_id \
             WHERE o.id IN ({id_list})"
        ),
        values,
    )
    .await?;
    // (`held` counts every escrow line of the order: none is a settlement's,
    // since a queued order has not settled.)
    // Orders grouped by whose money it becomes: one entry per community and
    // merchant takes their escrow out and credits the merchant and the
    // property, each on one line; `order_settlements` keeps each order's
    // part (so every order's escrow is still accounted for: `escrow_of`).
    let mut groups: BTreeMap<(CommunityId, Option<MerchantId>), Vec<Settled>> = BTreeMap::new();
    for r in rows {
        let d = Due {
            id: r.try_get("", "id")?,
            order_no: r.try_get("", "order_no")?,
            community: r.try_get("", "community_id")?,
            merchant: r.try_get("", "merchant_id")?,
            commission_bp: r.try_get("", "commission_bp")?,
            held: r.try_get("", "held")?,
        };
        let Ok(held) = Fen::new(d.held) else {
            // One broken order must not stop everyone's settlement: it is
            // left unsettled for the property to look at.
            tracing::error!(order = %d.order_no, held = d.held,
                "an order's escrow is negative; not settling it (anjia ledger verify)");
            continue;
        };
        let (_, commission) = split(held, d.merchant, d.commission_bp);
        groups
            .entry((d.community, d.merchant))
            .or_default()
            .push(Settled {
                order: d.id,
                gross: held,
                commission,
            });
    }
    if groups.is_empty() {
        txn.rollback().await?;
        return Ok(0);
    }
    let run = uuid::Uuid::now_v7();
    let mut entries = Vec::with_capacity(groups.len());
    let mut settled = Vec::with_capacity(ids.len());
    for (n, ((community, merchant), orders)) in groups.into_iter().enumerate() {
        let gross: i64 = orders.iter().map(|o| o.gross.as_i64()).sum();
        let commission: i64 = orders.iter().map(|o| o.commission.as_i64()).sum();
        let (Ok(gross), Ok(commission)) = (Fen::new(gross), Fen::new(commission)) else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "a settlement batch's totals overflow"
            )));
        };
        let mut entry = Entry::new(JournalKind::Settlement, format!("settlement:{run}:{n}"))
            .community(community)
            .memo(&format!("{} orders settled", orders.len()))
            .debit(Account::escrow(community), gross)
            .credit(Account::property_revenue(community), commission);
        if let Some(m) = merchant {
            // The commission is a share of each order's gross, never more.
            let net = gross.checked_sub(commission).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!(
                    "a settlement's commission {commission} exceeds its gross {gross}"
                ))
            })?;
            entry = entry.credit(Account::merchant_payable(m, community), net);
        }
        // An entry of only zero amounts is not recorded: its orders settle
        // without one.
        let entry_id = (gross != Fen::ZERO).then(|| entry.id());
        settled.extend(orders.into_iter().map(|o| order_settlement::Model {
            order_id: o.order,
            entry_id,
            community_id: community,
            merchant_id: merchant,
            gross: o.gross,
            commission: o.commission,
            settled_at: now,
        }));
        entries.push(entry);
    }
    ledger::post_many(&txn, entries).await?;
    if let Err(e) = record(&txn, &settled).await {
        txn.rollback().await?;
        if crate::kernel::db::is_unique_violation(&e) {
            // An order waits in the queue although it has settled (`ledger
            // verify` names it): it would fail every batch, so it leaves the
            // queue and the next round goes on.
            let stale = settlement_queue::Entity::delete_many()
                .filter(
                    settlement_queue::Column::OrderId.in_subquery(
                        sea_orm::sea_query::Query::select()
                            .column(order_settlement::Column::OrderId)
                            .from(order_settlement::Entity)
                            .to_owned(),
                    ),
                )
                .exec(db)
                .await?
                .rows_affected;
            if stale == 0 {
                return Err(e.into());
            }
            tracing::error!(
                stale,
                "settled orders were still queued to settle; taken off the queue (anjia ledger verify)"
            );
            return Ok(0);
        }
        return Err(e.into());
    }
    let order_ids: Vec<uuid::Uuid> = settled.iter().map(|s| s.order_id.as_uuid()).collect();
    let (id_list, id_values) = id_set(backend, 1, &order_ids);
    let dequeued = db::execute(
        &txn,
        &format!("DELETE FROM settlement_queue WHERE order_id IN ({id_list})"),
        id_values,
    )
    .await?
    .rows_affected();
    if dequeued != settled.len() as u64 {
        txn.rollback().await?;
        return Err(ApiError::internal(anyhow::anyhow!(
            "settling {} orders took {dequeued} off the queue; rolled back",
            settled.len()
        )));
    }
    txn.commit().await?;
    Ok(settled.len())
}

/// One order's share of a settlement batch.
struct Settled {
    order: OrderId,
    gross: Fen,
    commission: Fen,
}

/// Writes the settled orders' rows (an order settled before fails the
/// whole batch on its key).
async fn record<C: ConnectionTrait>(
    db: &C,
    settled: &[order_settlement::Model],
) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let rows: Vec<serde_json::Value> = settled
            .iter()
            .map(|s| {
                serde_json::json!([
                    s.order_id,
                    s.entry_id,
                    s.community_id,
                    s.merchant_id,
                    s.gross.as_i64(),
                    s.commission.as_i64()
                ])
            })
            .collect();
        let at = settled.first().map(|s| s.settled_at);
        db::execute(
            db,
            "INSERT INTO order_settlements \
             (order_id, entry_id, community_id, merchant_id, gross, commission, settled_at) \
             SELECT (r->>0)::uuid, (r->>1)::uuid, (r->>2)::uuid, (r->>3)::uuid, \
             (r->>4)::bigint, (r->>5)::bigint, $2 FROM json_array_elements($1::json) AS r",
            [serde_json::Value::Array(rows).to_string().into(), at.into()],
        )
        .await?;
        return Ok(());
    }
    for chunk in settled.chunks(2_000) {
        order_settlement::Entity::insert_many(
            chunk
                .iter()
                .map(|s| order_settlement::ActiveModel::from(s.clone())),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Whether an order has settled to its merchant.
pub async fn is_settled<C: ConnectionTrait>(db: &C, order: OrderId) -> ApiResult<bool> {
    Ok(order_settlement::Entity::find_by_id(order)
        .one(db)
        .await?
        .is_some())
}

/// Keeps the settlement queue in step with an order's move: a completed
/// order waits there to settle; one leaving `completed` (refunded in full)
/// leaves it.
pub async fn order_moved<C: ConnectionTrait>(
    db: &C,
    order: &entity::order::Model,
    from: OrderStatus,
) -> ApiResult<()> {
    if order.status == OrderStatus::Completed && from != OrderStatus::Completed {
        let confirmed_at = order.confirmed_at.unwrap_or_else(crate::kernel::clock::now);
        settlement_queue::Entity::insert(settlement_queue::ActiveModel {
            order_id: Set(order.id),
            confirmed_at: Set(confirmed_at),
        })
        .exec_without_returning(db)
        .await?;
    } else if from == OrderStatus::Completed && order.status != OrderStatus::Completed {
        settlement_queue::Entity::delete_by_id(order.id)
            .exec(db)
            .await?;
    }
    Ok(())
}

/// How `held` splits between the merchant and the property: the commission
/// (rounded down, in the merchant's favour) goes to the property; an order
/// with no merchant (the property's own group buy) is all the property's.
pub fn split(held: Fen, merchant: Option<MerchantId>, commission_bp: i64) -> (Fen, Fen) {
    if merchant.is_none() {
        return (Fen::ZERO, held);
    }
    let commission = held.basis_points(commission_bp);
    (held.checked_sub(commission).unwrap_or(held), commission)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn payment(cutoff: &str) -> PaymentSettings {
        PaymentSettings {
            provider: crate::config::PaymentProvider::Sandbox,
            unpaid_timeout_mins: 15,
            auto_confirm_days: 7,
            dispute_window_days: 7,
            dispute_escalation_days: 3,
            settlement_cutoff: cutoff.parse().unwrap(),
            settlement_timezone: "Asia/Shanghai".parse().unwrap(),
            settlement_batch: 5000,
        }
    }

    #[test]
    fn the_cutoff_is_today_s_once_it_has_passed_and_yesterday_s_before() {
        let s = payment("18:00");
        // 18:00 in Shanghai is 10:00 UTC.
        let after = "2026-11-23T10:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            latest_cutoff(&s, after).to_rfc3339(),
            "2026-11-23T10:00:00+00:00"
        );
        let before = "2026-11-23T09:59:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            latest_cutoff(&s, before).to_rfc3339(),
            "2026-11-22T10:00:00+00:00"
        );
        let (start, end) = business_day(&s, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap());
        assert_eq!(start.to_rfc3339(), "2026-11-22T16:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-23T16:00:00+00:00");
    }

    #[test]
    fn commission_is_rounded_down_and_the_property_keeps_its_own_sales() {
        let m = Some(MerchantId::new());
        let fen = |v| Fen::new(v).unwrap();
        assert_eq!(split(fen(13_600), m, 250), (fen(13_260), fen(340)));
        assert_eq!(split(fen(999), m, 100), (fen(990), fen(9)));
        assert_eq!(split(fen(999), m, 0), (fen(999), Fen::ZERO));
        assert_eq!(split(fen(500), None, 250), (Fen::ZERO, fen(500)));
    }
}
