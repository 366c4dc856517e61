//! One business day's reconciliation: the day's bill lines held against
//! what the ledger recorded, by trade number (商户订单号, 商户退款单号), so a
//! transaction near midnight matches whichever day each side put it on.
//!
//! A difference is one of: a line of the bill with nothing of ours behind it
//! (`missing_here`); a payment or refund of ours of the day found in no bill
//! of the day or the days beside it (`missing_in_bill`); the two sides
//! disagreeing on an amount (`amount_differs`) or on WeChat Pay's fee
//! (`fee_differs`). Fund-flow lines reach our records through the trade
//! bill's lines of the same WeChat numbers; transfers to merchants through
//! the withdrawal they paid. A property's finance see their community's
//! transactions only; operators see every line.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use entity::{
    CommunityId, FeePaymentStatus, PaymentMethod, RefundStatus, fee_payment, order, pay_bill,
    pay_bill_line, refund, withdrawal,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use utoipa::ToSchema;

use crate::kernel::error::ApiResult;

/// Whether a day's bills are in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillState {
    /// Fetched: the report holds.
    Fetched,
    /// Asked for, not yet there (WeChat Pay is making it, or the last try
    /// failed); retried every 30 minutes.
    Waiting,
    /// Not asked for yet (before 10:00 Beijing time the next day).
    NotAsked,
}

/// What went wrong with one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The bill has it; the ledger has nothing behind it.
    MissingHere,
    /// The ledger has it; no bill of the day (or the days beside it) does.
    MissingInBill,
    /// Both have it, for different amounts.
    AmountDiffers,
    /// The fund-flow bill's fee differs from the trade bill's.
    FeeDiffers,
}

/// One difference between the bills and the ledger.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Difference {
    pub problem: Problem,
    /// `trade` or `fund`.
    pub bill: String,
    /// `payment`, `refund`, `fee` or `transfer`.
    pub kind: String,
    /// Our number: the order's or fee payment's trade number, the refund's
    /// id, the withdrawal's.
    pub out_no: String,
    /// WeChat Pay's number, when the bill has the line.
    pub wechat_id: Option<String>,
    /// What the ledger recorded (fen).
    pub ours: Option<i64>,
    /// What the bill says (fen).
    pub theirs: Option<i64>,
    /// Whose transaction it is, when it is ours.
    pub community_id: Option<CommunityId>,
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct Tally {
    pub count: i64,
    /// Fen.
    pub amount: i64,
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct TradeTotals {
    pub payments: Tally,
    pub refunds: Tally,
    /// WeChat Pay's fees less those returned (fen): booked to the ledger.
    pub fees: i64,
}

#[derive(Clone, Debug, Default, Serialize, ToSchema)]
pub struct FundTotals {
    pub lines: i64,
    /// Fen.
    pub income: i64,
    /// Fen (positive).
    pub expense: i64,
    /// Movements that are none of ours to match (the property's own
    /// transfers to its bank, say).
    pub other: i64,
}

/// One business day's reconciliation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Reconciliation {
    /// The business day (Beijing time).
    pub date: NaiveDate,
    pub state: BillState,
    pub fetched_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// The last try to fetch failed (it is retried; the logs say why).
    pub last_attempt_failed: bool,
    pub trade: TradeTotals,
    pub fund: FundTotals,
    pub differences: Vec<Difference>,
}

/// Ours: a payment, a fee payment or a refund WeChat Pay carried.
#[derive(Clone, Debug)]
struct Ours {
    kind: &'static str,
    out_no: String,
    amount: i64,
    community: CommunityId,
    /// When it happened by our books (a payment: WeChat Pay's own time; a
    /// refund: when it was decided, which WeChat Pay accepts a little later).
    at: Option<DateTime<Utc>>,
}

impl Ours {
    fn of_order(o: &order::Model) -> Self {
        Ours {
            kind: "payment",
            out_no: o.order_no.clone(),
            amount: o.amount.as_i64(),
            community: o.community_id,
            at: o.paid_at,
        }
    }

    fn of_fee(p: &fee_payment::Model) -> Self {
        Ours {
            kind: "payment",
            out_no: p.out_trade_no.clone().unwrap_or_default(),
            amount: p.amount.as_i64(),
            community: p.community_id,
            at: p.paid_at,
        }
    }
}

fn day_name(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

async fn lines_of<C: ConnectionTrait>(
    db: &C,
    days: &[NaiveDate],
) -> ApiResult<Vec<pay_bill_line::Model>> {
    Ok(pay_bill_line::Entity::find()
        .filter(pay_bill_line::Column::BillDate.is_in(days.iter().map(|d| day_name(*d))))
        .all(db)
        .await?)
}

/// Our WeChat Pay payments and refunds named by `out_nos`, and those of
/// the day `[from, to)`.
async fn ours<C: ConnectionTrait>(
    db: &C,
    out_nos: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<(HashMap<String, Ours>, Vec<String>)> {
    let mut found: HashMap<String, Ours> = HashMap::new();
    let mut of_the_day = Vec::new();
    let mut add = |o: Ours, in_day: bool, found: &mut HashMap<String, Ours>| {
        if in_day {
            of_the_day.push(o.out_no.clone());
        }
        found.insert(o.out_no.clone(), o);
    };
    let in_day = |at: Option<DateTime<Utc>>| at.is_some_and(|t| t >= from && t < to);
    let refund_ids: Vec<entity::RefundId> = out_nos.iter().filter_map(|n| n.parse().ok()).collect();
    for chunk in out_nos.chunks(500) {
        let named = order::Entity::find()
            .filter(order::Column::OrderNo.is_in(chunk.iter().cloned()))
            .filter(order::Column::PaymentMethod.eq(PaymentMethod::WechatPay))
            .all(db)
            .await?;
        for o in named {
            add(Ours::of_order(&o), in_day(o.paid_at), &mut found);
        }
        let fees = fee_payment::Entity::find()
            .filter(fee_payment::Column::OutTradeNo.is_in(chunk.iter().cloned()))
            .filter(fee_payment::Column::Method.eq(PaymentMethod::WechatPay))
            .filter(fee_payment::Column::Status.eq(FeePaymentStatus::Succeeded))
            .all(db)
            .await?;
        for p in fees {
            add(Ours::of_fee(&p), in_day(p.paid_at), &mut found);
        }
    }
    let day_orders = order::Entity::find()
        .filter(order::Column::PaymentMethod.eq(PaymentMethod::WechatPay))
        .filter(order::Column::PaidAt.gte(from))
        .filter(order::Column::PaidAt.lt(to))
        .all(db)
        .await?;
    for o in day_orders {
        add(Ours::of_order(&o), true, &mut found);
    }
    let day_fees = fee_payment::Entity::find()
        .filter(fee_payment::Column::Method.eq(PaymentMethod::WechatPay))
        .filter(fee_payment::Column::Status.eq(FeePaymentStatus::Succeeded))
        .filter(fee_payment::Column::PaidAt.gte(from))
        .filter(fee_payment::Column::PaidAt.lt(to))
        .all(db)
        .await?;
    for p in day_fees {
        add(Ours::of_fee(&p), true, &mut found);
    }
    let wechat_refunds = refund::Entity::find()
        .filter(refund::Column::Provider.eq("wechat_pay"))
        .filter(refund::Column::Status.is_in([RefundStatus::Pending, RefundStatus::Succeeded]));
    let mut refunds = Vec::new();
    for chunk in refund_ids.chunks(500) {
        refunds.extend(
            wechat_refunds
                .clone()
                .filter(refund::Column::Id.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    refunds.extend(
        wechat_refunds
            .filter(refund::Column::CreatedAt.gte(from))
            .filter(refund::Column::CreatedAt.lt(to))
            .all(db)
            .await?,
    );
    let order_ids: Vec<entity::OrderId> = refunds.iter().map(|r| r.order_id).collect();
    let mut community_of: HashMap<entity::OrderId, CommunityId> = HashMap::new();
    for chunk in order_ids.chunks(500) {
        for o in order::Entity::find()
            .filter(order::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            community_of.insert(o.id, o.community_id);
        }
    }
    for r in refunds {
        let Some(community) = community_of.get(&r.order_id).copied() else {
            continue;
        };
        add(
            Ours {
                kind: "refund",
                out_no: r.id.to_string(),
                amount: r.amount.as_i64(),
                community,
                at: Some(r.created_at),
            },
            in_day(Some(r.created_at)),
            &mut found,
        );
    }
    of_the_day.sort();
    of_the_day.dedup();
    Ok((found, of_the_day))
}

fn difference(
    problem: Problem,
    line: Option<&pay_bill_line::Model>,
    kind: &str,
    ours: Option<&Ours>,
) -> Difference {
    Difference {
        problem,
        bill: line.map_or("trade", |l| l.source.as_str()).to_owned(),
        kind: kind.to_owned(),
        out_no: ours
            .map(|o| o.out_no.clone())
            .or_else(|| line.map(|l| l.out_no.clone()))
            .unwrap_or_default(),
        wechat_id: line.map(|l| l.wechat_id.clone()),
        ours: ours.map(|o| o.amount),
        theirs: line.map(|l| l.amount.abs()),
        community_id: ours.map(|o| o.community),
    }
}

/// The reconciliation of `date`, for one community's transactions or (with
/// `None`) for all of them.
pub async fn report<C: ConnectionTrait>(
    db: &C,
    date: NaiveDate,
    community: Option<CommunityId>,
) -> ApiResult<Reconciliation> {
    let bill = pay_bill::Entity::find_by_id(day_name(date)).one(db).await?;
    let fetched = bill.as_ref().is_some_and(|b| b.fetched_at.is_some());
    let next_fetched = pay_bill::Entity::find_by_id(day_name(date + Duration::days(1)))
        .one(db)
        .await?
        .is_some_and(|b| b.fetched_at.is_some());
    let (from, to) = super::bill_day(date);
    let days = [date - Duration::days(1), date, date + Duration::days(1)];
    let all = lines_of(db, &days).await?;
    let today: Vec<&pay_bill_line::Model> = all
        .iter()
        .filter(|l| l.bill_date == day_name(date))
        .collect();
    let trade_near: Vec<&pay_bill_line::Model> =
        all.iter().filter(|l| l.source == "trade").collect();
    let out_nos: Vec<String> = today
        .iter()
        .filter(|l| l.source == "trade")
        .map(|l| l.out_no.clone())
        .collect();
    let (ours, of_the_day) = ours(db, &out_nos, from, to).await?;
    // Until the day's bills are in, nothing of ours can be said to be
    // missing from them.
    let mine = |o: Option<&Ours>| match community {
        None => true,
        Some(c) => o.is_some_and(|o| o.community == c),
    };
    let mut trade = TradeTotals::default();
    let mut fund = FundTotals::default();
    let mut differences = Vec::new();
    for line in today.iter().filter(|l| l.source == "trade") {
        let found = ours.get(&line.out_no);
        if !mine(found) {
            continue;
        }
        let tally = if line.kind == "refund" {
            &mut trade.refunds
        } else {
            &mut trade.payments
        };
        tally.count += 1;
        tally.amount += line.amount;
        trade.fees += line.fee;
        match found {
            None => differences.push(difference(
                Problem::MissingHere,
                Some(line),
                &line.kind,
                None,
            )),
            Some(o) if o.amount != line.amount || o.kind != line.kind => {
                differences.push(difference(
                    Problem::AmountDiffers,
                    Some(line),
                    o.kind,
                    Some(o),
                ));
            }
            Some(_) => {}
        }
    }
    let billed: std::collections::HashSet<&str> =
        trade_near.iter().map(|l| l.out_no.as_str()).collect();
    for out_no in &of_the_day {
        let Some(o) = ours.get(out_no) else {
            continue;
        };
        if !mine(Some(o)) || billed.contains(out_no.as_str()) || !fetched {
            continue;
        }
        // A refund decided late in the day may be accepted by WeChat Pay
        // after midnight: it is missing only if the next day's bill lacks it
        // too.
        let late = o.at.is_some_and(|at| to - at < Duration::hours(1));
        if o.kind == "refund" && late && !next_fetched {
            continue;
        }
        differences.push(difference(Problem::MissingInBill, None, o.kind, Some(o)));
    }
    // Fund-flow lines: through the trade line of the same WeChat number.
    let by_wechat: HashMap<(&str, &str), &pay_bill_line::Model> = trade_near
        .iter()
        .map(|l| ((l.kind.as_str(), l.wechat_id.as_str()), *l))
        .collect();
    let transfer_ids: Vec<String> = today
        .iter()
        .filter(|l| l.source == "fund")
        .map(|l| l.wechat_id.clone())
        .collect();
    let mut transfers: HashMap<String, withdrawal::Model> = HashMap::new();
    for chunk in transfer_ids.chunks(500) {
        for w in withdrawal::Entity::find()
            .filter(withdrawal::Column::TransferBillNo.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            if let Some(no) = w.transfer_bill_no.clone() {
                transfers.insert(no, w);
            }
        }
    }
    for line in today.iter().filter(|l| l.source == "fund") {
        let (trade_kind, is_fee) = match line.kind.as_str() {
            "交易" => ("payment", false),
            "退款" => ("refund", false),
            "扣除交易手续费" => ("payment", true),
            "退还交易手续费" => ("refund", true),
            _ => ("", false),
        };
        if trade_kind.is_empty() {
            let found = transfers.get(&line.wechat_id).map(|w| Ours {
                kind: "transfer",
                out_no: w.id.to_string(),
                amount: w.amount.as_i64(),
                community: w.community_id,
                at: w.paid_at,
            });
            if !mine(found.as_ref()) {
                continue;
            }
            count(&mut fund, line.amount);
            match &found {
                Some(o) if o.amount != -line.amount => differences.push(difference(
                    Problem::AmountDiffers,
                    Some(line),
                    "transfer",
                    Some(o),
                )),
                Some(_) => {}
                None => fund.other += 1,
            }
            continue;
        }
        let traded = by_wechat
            .get(&(trade_kind, line.wechat_id.as_str()))
            .copied();
        let found = traded.and_then(|t| ours.get(&t.out_no));
        if community.is_some() && !mine(found) {
            continue;
        }
        count(&mut fund, line.amount);
        let Some(traded) = traded else {
            differences.push(difference(
                Problem::MissingHere,
                Some(line),
                if is_fee { "fee" } else { trade_kind },
                None,
            ));
            continue;
        };
        if found.is_none() {
            // Its trade line is reported already.
            continue;
        }
        let (want, problem) = if is_fee {
            (traded.fee.abs(), Problem::FeeDiffers)
        } else {
            (traded.amount, Problem::AmountDiffers)
        };
        if line.amount.abs() != want {
            let mut d = difference(
                problem,
                Some(line),
                if is_fee { "fee" } else { trade_kind },
                found,
            );
            d.ours = Some(want);
            differences.push(d);
        }
    }
    Ok(Reconciliation {
        date,
        state: match &bill {
            _ if fetched => BillState::Fetched,
            Some(_) => BillState::Waiting,
            None => BillState::NotAsked,
        },
        fetched_at: bill.as_ref().and_then(|b| b.fetched_at),
        attempts: bill.as_ref().map_or(0, |b| b.attempts),
        last_attempt_failed: bill.as_ref().is_some_and(|b| b.last_error.is_some()),
        trade,
        fund,
        differences,
    })
}

fn count(fund: &mut FundTotals, amount: i64) {
    fund.lines += 1;
    if amount >= 0 {
        fund.income += amount;
    } else {
        fund.expense -= amount;
    }
}

/// Fen as signed yuan (`-0.60`).
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen.abs() / 100, fen.abs() % 100)
}

/// The differences as CSV rows (the header is [`CSV_HEADER`]).
pub fn csv_rows(r: &Reconciliation) -> Vec<Vec<String>> {
    r.differences
        .iter()
        .map(|d| {
            vec![
                r.date.to_string(),
                serde_json::to_value(d.problem)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                d.bill.clone(),
                d.kind.clone(),
                d.out_no.clone(),
                d.wechat_id.clone().unwrap_or_default(),
                d.ours.map(yuan).unwrap_or_default(),
                d.theirs.map(yuan).unwrap_or_default(),
                d.community_id.map(|c| c.to_string()).unwrap_or_default(),
            ]
        })
        .collect()
}

pub const CSV_HEADER: [&str; 9] = [
    "date",
    "problem",
    "bill",
    "kind",
    "out_no",
    "wechat_id",
    "ours_yuan",
    "theirs_yuan",
    "community_id",
];
