//! The rules of property-fee bills: issuing them (generated from floor
//! areas, or imported), what a bill owes, voiding, and what finance and
//! residents read. Paying is in [`payments`], arrears and reminders in
//! [`arrears`], the spreadsheet import in [`import`].

use chrono::NaiveDate;
use entity::{
    CommunityId, FeeBillId, FeeBillStatus, Fen, HouseholdId, JournalKind, UserId, fee_bill,
    fee_payment, household,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::ledger::{self, Account, Entry};

pub mod arrears;
pub mod import;
pub mod payments;

pub use arrears::{Overdue, Reminders, arrears, remind};
pub use import::import;
pub use payments::{Rest, TRADE_PREFIX, new_trade_no, pay, wechat_paid};

/// Area × rate, rounded to the nearest fen (half up): `area_centi` in
/// hundredths of a square metre, `rate` in fen per square metre.
pub fn area_fee(area_centi: i64, rate: i64) -> Option<Fen> {
    let fen = area_centi.checked_mul(rate)?.checked_add(50)? / 100;
    Fen::new(fen).ok().filter(|f| *f > Fen::ZERO)
}

/// A yuan amount as people write it (`1234`, `1234.5`, `1234.50`).
pub fn parse_yuan(value: &str) -> Option<Fen> {
    let value = value.trim();
    let (whole, cents) = match value.split_once('.') {
        Some((w, c)) if !c.is_empty() && c.len() <= 2 => (w, c),
        Some(_) => return None,
        None => (value, ""),
    };
    if whole.is_empty()
        || whole.len() > 12
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let cents: i64 = match cents.len() {
        0 => 0,
        1 => cents.parse::<i64>().ok()? * 10,
        _ => cents.parse().ok()?,
    };
    Fen::new(whole.checked_mul(100)?.checked_add(cents)?).ok()
}

/// The period a run of bills is for and when they fall due, checked.
pub struct Billing {
    pub period: String,
    pub due_on: NaiveDate,
}

impl Billing {
    /// `period` as finance name it (`2026-Q4`, `2026年`): one bill per
    /// household and period.
    pub fn parse(period: &str, due_on: NaiveDate) -> ApiResult<Self> {
        Ok(Self {
            period: crate::kernel::text::required("period", period, 32)?,
            due_on,
        })
    }
}

/// Fen per square metre for a generated period, checked (1 to 100,000).
#[derive(Clone, Copy, Debug)]
pub struct Rate(i64);

impl Rate {
    pub fn parse(fen: i64) -> ApiResult<Self> {
        if (1..=100_000).contains(&fen) {
            Ok(Self(fen))
        } else {
            Err(ApiError::invalid_field(
                "rate_fen",
                "fen per square metre, 1 to 100000",
            ))
        }
    }
}

/// A bill to issue.
pub struct NewBill {
    pub household: HouseholdId,
    pub amount: Fen,
    pub area_centi_m2: Option<i64>,
    pub rate_fen: Option<i64>,
}

/// What a run of bills did.
pub struct Issued {
    /// Bills issued now.
    pub issued: usize,
    /// Households already billed for the period (left as they were).
    pub already_billed: usize,
    /// Households without a floor area on record (generated runs only).
    pub without_area: Vec<HouseholdId>,
}

/// Issues `bills` for the period in one write transaction, skipping
/// households already billed for it.
async fn issue_all(
    db: &DatabaseConnection,
    community: CommunityId,
    billing: &Billing,
    source: &str,
    by: UserId,
    bills: Vec<NewBill>,
) -> ApiResult<Issued> {
    let candidates = bills.len();
    let txn = begin_write(db).await?;
    let issued = issue(
        &txn,
        community,
        &billing.period,
        billing.due_on,
        source,
        by,
        bills,
    )
    .await?;
    txn.commit().await?;
    Ok(Issued {
        issued,
        already_billed: candidates - issued,
        without_area: Vec::new(),
    })
}

/// Issues `bills` for the period in the caller's transaction, skipping
/// households already billed for it. Returns how many were issued. Issuing
/// posts Dr fee receivable (the household) / Cr fee revenue (the community).
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    period: &str,
    due_on: NaiveDate,
    source: &str,
    by: UserId,
    bills: Vec<NewBill>,
) -> ApiResult<usize> {
    let billed: Vec<HouseholdId> = fee_bill::Entity::find()
        .filter(fee_bill::Column::CommunityId.eq(community))
        .filter(fee_bill::Column::Period.eq(period))
        .filter(fee_bill::Column::Status.ne(FeeBillStatus::Void))
        .select_only()
        .column(fee_bill::Column::HouseholdId)
        .into_tuple()
        .all(db)
        .await?;
    let now = clock::now();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for b in bills {
        if billed.contains(&b.household) {
            continue;
        }
        let id = FeeBillId::new();
        entries.push(
            Entry::new(JournalKind::FeeBilled, format!("fee_bill:{id}"))
                .community(community)
                .subject(id)
                .by(Some(by))
                .memo(&format!("property fee {period}"))
                .debit(Account::fee_receivable(b.household), b.amount)
                .credit(Account::fee_revenue(community), b.amount),
        );
        rows.push(fee_bill::ActiveModel::from(fee_bill::Model {
            id,
            community_id: community,
            household_id: b.household,
            period: period.to_owned(),
            amount: b.amount,
            paid_amount: Fen::ZERO,
            status: FeeBillStatus::Unpaid,
            area_centi_m2: b.area_centi_m2,
            rate_fen: b.rate_fen,
            source: source.to_owned(),
            due_on,
            created_by: by,
            paid_at: None,
            reminded_at: None,
            voided_at: None,
            voided_by: None,
            void_reason: None,
            created_at: now,
            updated_at: now,
        }));
    }
    let issued = rows.len();
    for chunk in rows.chunks(500) {
        if let Err(e) = fee_bill::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
        {
            // Another run is issuing the same period right now: nothing of
            // this one is kept (the caller's transaction rolls back).
            return Err(if db::is_unique_violation(&e) {
                ApiError::new(
                    ErrorCode::Conflict,
                    format!("bills for {period} are being issued by another run; try again"),
                )
            } else {
                e.into()
            });
        }
    }
    ledger::post_many(db, entries).await?;
    Ok(issued)
}

/// Bills every household of `community` for the period: its floor area
/// times `rate` fen per square metre. Households already billed for the
/// period are left alone, so running it again only fills the gaps.
pub async fn generate(
    db: &DatabaseConnection,
    community: CommunityId,
    billing: &Billing,
    rate: Rate,
    by: UserId,
) -> ApiResult<Issued> {
    let households = household::Entity::find()
        .filter(household::Column::CommunityId.eq(community))
        .all(db)
        .await?;
    let mut without_area = Vec::new();
    let mut bills = Vec::new();
    for h in &households {
        match h
            .area_centi_m2
            .and_then(|a| area_fee(a, rate.0).map(|f| (a, f)))
        {
            Some((area, amount)) => bills.push(NewBill {
                household: h.id,
                amount,
                area_centi_m2: Some(area),
                rate_fen: Some(rate.0),
            }),
            None => without_area.push(h.id),
        }
    }
    let issued = issue_all(db, community, billing, "generated", by, bills).await?;
    Ok(Issued {
        without_area,
        ..issued
    })
}

/// What a bill still owes (nothing once voided). The bill's own figures
/// are checked on write (never paid beyond its amount), so a bill that
/// seems overpaid is a broken invariant: logged, and shown as owing
/// nothing rather than refusing to show it.
pub fn outstanding(bill: &fee_bill::Model) -> Fen {
    if bill.status == FeeBillStatus::Void {
        return Fen::ZERO;
    }
    bill.amount
        .checked_sub(bill.paid_amount)
        .unwrap_or_else(|| {
            tracing::error!(bill = %bill.id, amount = bill.amount.as_i64(),
            paid = bill.paid_amount.as_i64(), "a fee bill paid beyond its amount");
            Fen::ZERO
        })
}

/// Voids a bill nothing has been paid on and no WeChat Pay payment is
/// waiting for (作废: billed in error, or the household is exempt): its
/// receivable and the revenue are reversed, and the period may be billed
/// again. A bill with money on it is not voided: refund or keep it.
pub async fn void(
    db: &DatabaseConnection,
    community: CommunityId,
    bill_id: FeeBillId,
    by: UserId,
    reason: &str,
) -> ApiResult<fee_bill::Model> {
    let now = clock::now();
    let txn = begin_write(db).await?;
    let bill = fee_bill::Entity::find_by_id(bill_id)
        .filter(fee_bill::Column::CommunityId.eq(community))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if bill.status != FeeBillStatus::Unpaid || bill.paid_amount != Fen::ZERO {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!(
                "a bill that is {} cannot be voided: only one nothing has been paid on",
                bill.status
            ),
        ));
    }
    // A WeChat Pay payment may still come for it: the resident is paying.
    let waiting = fee_payment::Entity::find()
        .filter(fee_payment::Column::BillId.eq(bill.id))
        .filter(fee_payment::Column::Status.eq(entity::FeePaymentStatus::Pending))
        .one(&txn)
        .await?;
    if waiting.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "a WeChat Pay payment of this bill is under way; try again once it has come or lapsed",
        ));
    }
    ledger::post(
        &txn,
        Entry::new(JournalKind::FeeVoided, format!("fee_void:{}", bill.id))
            .community(bill.community_id)
            .subject(bill.id)
            .by(Some(by))
            .memo(&format!("property fee {} voided: {reason}", bill.period))
            .debit(Account::fee_revenue(bill.community_id), bill.amount)
            .credit(Account::fee_receivable(bill.household_id), bill.amount),
    )
    .await?;
    let voided = fee_bill::Model {
        status: FeeBillStatus::Void,
        voided_at: Some(now),
        voided_by: Some(by),
        void_reason: Some(reason.to_owned()),
        updated_at: now,
        ..bill
    };
    db::transition(
        &txn,
        fee_bill::Entity::update_many()
            .col_expr(fee_bill::Column::VoidedAt, Expr::value(now))
            .col_expr(fee_bill::Column::VoidedBy, Expr::value(by))
            .col_expr(fee_bill::Column::VoidReason, Expr::value(reason.to_owned()))
            .col_expr(fee_bill::Column::UpdatedAt, Expr::value(now))
            .filter(fee_bill::Column::Id.eq(voided.id)),
        fee_bill::Column::Status,
        FeeBillStatus::Unpaid,
        FeeBillStatus::Void,
    )
    .await?;
    txn.commit().await?;
    Ok(voided)
}

/// A bill with its payments (the receipts) and its household's address.
pub struct Detail {
    pub bill: fee_bill::Model,
    pub address: String,
    /// Oldest first.
    pub payments: Vec<fee_payment::Model>,
}

/// `bill` with its payments and its household's address.
pub async fn detail<C: ConnectionTrait>(db: &C, bill: fee_bill::Model) -> ApiResult<Detail> {
    let payments = fee_payment::Entity::find()
        .filter(fee_payment::Column::BillId.eq(bill.id))
        .order_by_asc(fee_payment::Column::Id)
        .all(db)
        .await?;
    let address = crate::structure::service::household_address(db, bill.household_id)
        .await?
        .unwrap_or_default();
    Ok(Detail {
        bill,
        address,
        payments,
    })
}

/// A bill of `community` with its payments, if `may_see` it (their
/// household's, or any for finance: the caller decides); otherwise not
/// found.
pub async fn visible_detail<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: FeeBillId,
    may_see: impl Fn(&fee_bill::Model) -> bool,
) -> ApiResult<Detail> {
    let bill = fee_bill::Entity::find_by_id(id)
        .filter(fee_bill::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .filter(|b| may_see(b))
        .ok_or_else(ApiError::not_found)?;
    detail(db, bill).await
}

/// One page of the community's bills, oldest first, of one period and one
/// status when given.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    period: Option<&str>,
    status: Option<FeeBillStatus>,
    page: PageRequest,
) -> ApiResult<Page<fee_bill::Model>> {
    let mut select = fee_bill::Entity::find().filter(fee_bill::Column::CommunityId.eq(community));
    if let Some(p) = period {
        select = select.filter(fee_bill::Column::Period.eq(p.trim()));
    }
    if let Some(s) = status {
        select = select.filter(fee_bill::Column::Status.eq(s));
    }
    Ok(page
        .fetch(select, fee_bill::Column::Id, |b| b.id.as_uuid(), db)
        .await?)
}

/// A household's bills, oldest first (at most 200). Another community's
/// household is not found, even for finance.
pub async fn household_bills<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    household: HouseholdId,
) -> ApiResult<Vec<fee_bill::Model>> {
    household::Entity::find_by_id(household)
        .filter(household::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(fee_bill::Entity::find()
        .filter(fee_bill::Column::CommunityId.eq(community))
        .filter(fee_bill::Column::HouseholdId.eq(household))
        .order_by_asc(fee_bill::Column::Id)
        .limit(200)
        .all(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fen(v: i64) -> Option<Fen> {
        Fen::new(v).ok()
    }

    #[test]
    fn area_times_rate_rounds_to_the_nearest_fen() {
        // 89.56 m² at 2.35 yuan/m²: 210.466 yuan.
        assert_eq!(area_fee(8956, 235), fen(21_047));
        assert_eq!(area_fee(100, 1), fen(1));
        assert_eq!(area_fee(49, 1), None, "rounds to nothing");
        assert_eq!(area_fee(i64::MAX, 2), None);
    }

    #[test]
    fn yuan_amounts_parse_to_fen_and_nonsense_does_not() {
        assert_eq!(parse_yuan("1234"), fen(123_400));
        assert_eq!(parse_yuan(" 1234.5 "), fen(123_450));
        assert_eq!(parse_yuan("0.07"), fen(7));
        for bad in ["", ".5", "1.", "1.234", "-1", "1e3", "１２", "1,000"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }
}
