//! Property-fee bills (物业费), and seed 001's "balances can offset the
//! property fee" (抵扣物业费).
//!
//! - Finance issue one bill per household and period: generated from the
//!   household's floor area and a rate per square metre ([`generate`]), or
//!   imported from a spreadsheet ([`import`]). Issuing posts Dr fee
//!   receivable (the household) / Cr fee revenue (the community).
//! - A member pays it ([`pay`]) from the household's wallet, by the payment
//!   provider, or both: the wallet part is taken at once, the rest is
//!   paid through the sandbox at once or through WeChat Pay, whose
//!   notification ([`wechat_paid`]) completes it. Each part is a row of
//!   `fee_payments`: a receipt once it succeeded. WeChat Pay trade numbers
//!   of fee payments start with [`TRADE_PREFIX`], which is how the shared
//!   notification route tells them from orders.
//! - Money WeChat Pay brings beyond what the bill still owes (a resident who
//!   paid twice from two phones) is kept in the household's wallet, never
//!   lost.
//! - Finance see the arrears and queue reminders through the outbox.

pub mod routes;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    CommunityId, FeeBillId, FeeBillStatus, FeePaymentId, FeePaymentStatus, Fen, HouseholdId,
    JournalKind, PaymentMethod, UserId, fee_bill, fee_payment, household,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::begin_write;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};

/// WeChat Pay `out_trade_no` prefix of fee payments (orders' are all digits).
pub const TRADE_PREFIX: &str = "F";

/// A fresh trade number for a fee payment: `F`, the UTC date, 12 random
/// digits (21 characters).
fn trade_no(now: DateTime<Utc>) -> String {
    format!(
        "{TRADE_PREFIX}{}{:012}",
        now.format("%Y%m%d"),
        rand::random_range(0..1_000_000_000_000u64)
    )
}

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

/// A bill to issue.
pub struct NewBill {
    pub household: HouseholdId,
    pub amount: Fen,
    pub area_centi_m2: Option<i64>,
    pub rate_fen: Option<i64>,
}

/// Issues `bills` for `period` in the caller's transaction, skipping
/// households already billed for it. Returns how many were issued.
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
            return Err(if crate::kernel::db::is_unique_violation(&e) {
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

/// What generating a period's bills did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Generated {
    /// Bills issued now.
    pub issued: usize,
    /// Households already billed for the period (left as they were).
    pub already_billed: usize,
    /// Households without a floor area on record: not billed (set their
    /// area, or import their bills).
    pub without_area: Vec<HouseholdId>,
}

/// Bills every household of `community` for `period`: its floor area times
/// `rate` fen per square metre. Households already billed for the period
/// are left alone, so running it again only fills the gaps.
pub async fn generate(
    db: &DatabaseConnection,
    community: CommunityId,
    period: &str,
    rate: i64,
    due_on: NaiveDate,
    by: UserId,
) -> ApiResult<Generated> {
    let households = household::Entity::find()
        .filter(household::Column::CommunityId.eq(community))
        .all(db)
        .await?;
    let mut without_area = Vec::new();
    let mut bills = Vec::new();
    for h in &households {
        match h
            .area_centi_m2
            .and_then(|a| area_fee(a, rate).map(|f| (a, f)))
        {
            Some((area, amount)) => bills.push(NewBill {
                household: h.id,
                amount,
                area_centi_m2: Some(area),
                rate_fen: Some(rate),
            }),
            None => without_area.push(h.id),
        }
    }
    let candidates = bills.len();
    let txn = begin_write(db).await?;
    let issued = issue(&txn, community, period, due_on, "generated", by, bills).await?;
    txn.commit().await?;
    Ok(Generated {
        issued,
        already_billed: candidates - issued,
        without_area,
    })
}

/// What a bill still owes (nothing once voided).
pub fn outstanding(bill: &fee_bill::Model) -> Fen {
    if bill.status == FeeBillStatus::Void {
        return Fen::ZERO;
    }
    bill.amount
        .checked_sub(bill.paid_amount)
        .unwrap_or(Fen::ZERO)
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
        .filter(fee_payment::Column::Status.eq(FeePaymentStatus::Pending))
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
    let moved = fee_bill::Entity::update_many()
        .col_expr(fee_bill::Column::Status, Expr::value(FeeBillStatus::Void))
        .col_expr(fee_bill::Column::VoidedAt, Expr::value(now))
        .col_expr(fee_bill::Column::VoidedBy, Expr::value(by))
        .col_expr(fee_bill::Column::VoidReason, Expr::value(reason.to_owned()))
        .col_expr(fee_bill::Column::UpdatedAt, Expr::value(now))
        .filter(fee_bill::Column::Id.eq(voided.id))
        .filter(fee_bill::Column::Status.eq(FeeBillStatus::Unpaid))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the bill changed meanwhile; reload it and try again",
        ));
    }
    txn.commit().await?;
    Ok(voided)
}

/// Records `amount` paid towards `bill` (already locked by the caller):
/// the bill's paid amount and status. Returns the bill as it now is.
async fn credit_bill<C: ConnectionTrait>(
    db: &C,
    bill: &fee_bill::Model,
    amount: Fen,
    now: DateTime<Utc>,
) -> ApiResult<fee_bill::Model> {
    let paid = bill
        .paid_amount
        .checked_add(amount)
        .filter(|p| *p <= bill.amount)
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("fee bill {} would be overpaid", bill.id))
        })?;
    let status = if paid == bill.amount {
        FeeBillStatus::Paid
    } else {
        FeeBillStatus::PartiallyPaid
    };
    let moved = fee_bill::Entity::update_many()
        .col_expr(fee_bill::Column::PaidAmount, Expr::value(paid))
        .col_expr(fee_bill::Column::Status, Expr::value(status))
        .col_expr(
            fee_bill::Column::PaidAt,
            Expr::value((status == FeeBillStatus::Paid).then_some(now)),
        )
        .col_expr(fee_bill::Column::UpdatedAt, Expr::value(now))
        .filter(fee_bill::Column::Id.eq(bill.id))
        .filter(fee_bill::Column::PaidAmount.eq(bill.paid_amount))
        .exec(db)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the bill changed meanwhile; reload it and try again",
        ));
    }
    Ok(fee_bill::Model {
        paid_amount: paid,
        status,
        paid_at: (status == FeeBillStatus::Paid).then_some(now),
        updated_at: now,
        ..bill.clone()
    })
}

/// Writes one payment of a bill that has succeeded, with its posting.
async fn paid_part<C: ConnectionTrait>(
    db: &C,
    bill: &fee_bill::Model,
    by: UserId,
    method: PaymentMethod,
    amount: Fen,
    now: DateTime<Utc>,
) -> ApiResult<fee_bill::Model> {
    let id = FeePaymentId::new();
    fee_payment::Entity::insert(fee_payment::ActiveModel::from(fee_payment::Model {
        id,
        bill_id: bill.id,
        community_id: bill.community_id,
        household_id: bill.household_id,
        paid_by: by,
        method,
        amount,
        status: FeePaymentStatus::Succeeded,
        out_trade_no: None,
        paid_at: Some(now),
        checked_at: None,
        created_at: now,
    }))
    .exec_without_returning(db)
    .await?;
    let from = match method {
        PaymentMethod::Wallet => Account::household_wallet(bill.household_id),
        PaymentMethod::Sandbox | PaymentMethod::WechatPay => Account::wechat_clearing(),
    };
    ledger::post(
        db,
        Entry::new(JournalKind::FeePaid, format!("fee_payment:{id}"))
            .community(bill.community_id)
            .subject(id)
            .by(Some(by))
            .memo(&format!("property fee {} paid by {method}", bill.period))
            .debit(from, amount)
            .credit(Account::fee_receivable(bill.household_id), amount),
    )
    .await?;
    credit_bill(db, bill, amount, now).await
}

/// How the rest of a bill is to be paid, once the wallet part is taken.
pub enum Rest {
    /// Nothing left (the wallet paid it all).
    Nothing,
    /// The sandbox takes it at once.
    Sandbox,
    /// WeChat Pay was asked for it under this trade number; its
    /// notification completes it.
    WechatPay { trade_no: String },
}

/// Pays `wallet` of the bill from the household's wallet and sets up the
/// rest as `rest` says, in one transaction. `expect_rest` is what the caller
/// computed the rest to be (the bill must not have changed since).
pub async fn pay(
    db: &DatabaseConnection,
    settings: &Settings,
    bill_id: FeeBillId,
    by: UserId,
    wallet: Fen,
    expect_rest: Fen,
    rest: Rest,
) -> ApiResult<fee_bill::Model> {
    let now = clock::now();
    let txn = begin_write(db).await?;
    let mut bill = fee_bill::Entity::find_by_id(bill_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if wallet.checked_add(expect_rest) != Some(outstanding(&bill)) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the bill changed meanwhile; reload it and try again",
        ));
    }
    if wallet > Fen::ZERO {
        bill = paid_part(&txn, &bill, by, PaymentMethod::Wallet, wallet, now).await?;
    }
    let mut paid_now = wallet;
    match rest {
        Rest::Nothing => {}
        Rest::Sandbox => {
            bill = paid_part(&txn, &bill, by, PaymentMethod::Sandbox, expect_rest, now).await?;
            paid_now = wallet.checked_add(expect_rest).unwrap_or(wallet);
        }
        Rest::WechatPay { trade_no } => {
            fee_payment::Entity::insert(fee_payment::ActiveModel::from(fee_payment::Model {
                id: FeePaymentId::new(),
                bill_id: bill.id,
                community_id: bill.community_id,
                household_id: bill.household_id,
                paid_by: by,
                method: PaymentMethod::WechatPay,
                amount: expect_rest,
                status: FeePaymentStatus::Pending,
                out_trade_no: Some(trade_no),
                paid_at: None,
                checked_at: None,
                created_at: now,
            }))
            .exec_without_returning(&txn)
            .await?;
        }
    }
    if paid_now > Fen::ZERO {
        crate::outbox::notify(
            &txn,
            settings,
            by,
            "fee_receipt",
            &[("period", bill.period.clone()), ("amount", paid_now.yuan())],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(bill)
}

/// A trade number for a new WeChat Pay part.
pub fn new_trade_no() -> String {
    trade_no(clock::now())
}

/// Applies WeChat Pay's report that `trade_no` was paid `total` fen: the
/// payment succeeds once, the bill is credited with what it still owes,
/// and anything beyond that goes into the household's wallet. Returns
/// `None` for an unknown trade number, `Some(false)` for an amount that
/// does not match (nothing written), `Some(true)` when applied (now or
/// before).
pub async fn wechat_paid(
    db: &DatabaseConnection,
    settings: &Settings,
    trade_no: &str,
    total: i64,
) -> ApiResult<Option<bool>> {
    let now = clock::now();
    let txn = begin_write(db).await?;
    let Some(payment) = fee_payment::Entity::find()
        .filter(fee_payment::Column::OutTradeNo.eq(trade_no))
        .lock_exclusive()
        .one(&txn)
        .await?
    else {
        return Ok(None);
    };
    if payment.amount.as_i64() != total {
        return Ok(Some(false));
    }
    if payment.status == FeePaymentStatus::Succeeded {
        return Ok(Some(true));
    }
    let moved = fee_payment::Entity::update_many()
        .col_expr(
            fee_payment::Column::Status,
            Expr::value(FeePaymentStatus::Succeeded),
        )
        .col_expr(fee_payment::Column::PaidAt, Expr::value(now))
        .filter(fee_payment::Column::Id.eq(payment.id))
        .filter(fee_payment::Column::Status.ne(FeePaymentStatus::Succeeded))
        .exec(&txn)
        .await?
        .rows_affected;
    if moved != 1 {
        return Ok(Some(true));
    }
    let bill = fee_bill::Entity::find_by_id(payment.bill_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let applied = payment.amount.min(outstanding(&bill));
    let excess = payment.amount.checked_sub(applied).unwrap_or(Fen::ZERO);
    ledger::post(
        &txn,
        Entry::new(JournalKind::FeePaid, format!("fee_payment:{}", payment.id))
            .community(bill.community_id)
            .subject(payment.id)
            .by(Some(payment.paid_by))
            .memo(&format!("property fee {} paid by WeChat Pay", bill.period))
            .debit(Account::wechat_clearing(), applied)
            .credit(Account::fee_receivable(bill.household_id), applied),
    )
    .await?;
    if excess > Fen::ZERO {
        tracing::warn!(bill = %bill.id, payment = %payment.id, excess = excess.as_i64(),
            "WeChat Pay paid more than the fee bill owed; the excess is kept in the household's wallet");
        ledger::post(
            &txn,
            Entry::new(
                JournalKind::FeeOverpaid,
                format!("fee_payment:{}:excess", payment.id),
            )
            .community(bill.community_id)
            .subject(payment.id)
            .memo(&format!(
                "paid beyond property fee {}; kept in the wallet",
                bill.period
            ))
            .debit(Account::wechat_clearing(), excess)
            .credit(Account::household_wallet(bill.household_id), excess),
        )
        .await?;
    }
    // A receipt for what the bill took; money for a bill voided or paid
    // meanwhile is in the wallet, where the resident sees it.
    if applied > Fen::ZERO {
        let bill = credit_bill(&txn, &bill, applied, now).await?;
        crate::outbox::notify(
            &txn,
            settings,
            payment.paid_by,
            "fee_receipt",
            &[("period", bill.period.clone()), ("amount", applied.yuan())],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(Some(true))
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
