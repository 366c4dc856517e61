//! Paying a bill (seed 001's "balances can offset the property fee",
//! 抵扣物业费): from the household's wallet, by the payment provider, or
//! both. The wallet part is taken at once, the rest is paid through the
//! sandbox at once or through WeChat Pay, whose notification
//! ([`wechat_paid`]) completes it. Each part is a row of `fee_payments`: a
//! receipt once it succeeded. Money WeChat Pay brings beyond what the bill
//! still owes (a resident who paid twice from two phones) is kept in the
//! household's wallet, never lost.

use chrono::{DateTime, Utc};
use entity::{
    FeeBillId, FeeBillStatus, FeePaymentId, FeePaymentStatus, Fen, JournalKind, PaymentMethod,
    UserId, fee_bill, fee_payment,
};
use sea_orm::QuerySelect;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::outstanding;
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::ledger::{self, Account, Entry};

/// WeChat Pay `out_trade_no` prefix of fee payments (orders' are all
/// digits): how the shared notification route tells them from orders.
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

/// A trade number for a new WeChat Pay part.
pub fn new_trade_no() -> String {
    trade_no(clock::now())
}

/// Records `amount` paid towards `bill` (already locked by the caller):
/// the bill's paid amount and status, a move of its machine guarded by
/// the paid amount read. Returns the bill as it now is.
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
    db::transition(
        db,
        fee_bill::Entity::update_many()
            .col_expr(fee_bill::Column::PaidAmount, Expr::value(paid))
            .col_expr(
                fee_bill::Column::PaidAt,
                Expr::value((status == FeeBillStatus::Paid).then_some(now)),
            )
            .col_expr(fee_bill::Column::UpdatedAt, Expr::value(now))
            .filter(fee_bill::Column::Id.eq(bill.id))
            .filter(fee_bill::Column::PaidAmount.eq(bill.paid_amount)),
        fee_bill::Column::Status,
        bill.status,
        status,
    )
    .await?;
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
    let Some(owed) = wallet
        .checked_add(expect_rest)
        .filter(|w| *w == outstanding(&bill))
    else {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the bill changed meanwhile; reload it and try again",
        ));
    };
    if wallet > Fen::ZERO {
        bill = paid_part(&txn, &bill, by, PaymentMethod::Wallet, wallet, now).await?;
    }
    let mut paid_now = wallet;
    match rest {
        Rest::Nothing => {}
        Rest::Sandbox => {
            bill = paid_part(&txn, &bill, by, PaymentMethod::Sandbox, expect_rest, now).await?;
            paid_now = owed;
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
        crate::outbox::service::notify(
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
    let succeeded = db::transition(
        &txn,
        fee_payment::Entity::update_many()
            .col_expr(fee_payment::Column::PaidAt, Expr::value(now))
            .filter(fee_payment::Column::Id.eq(payment.id)),
        fee_payment::Column::Status,
        payment.status,
        FeePaymentStatus::Succeeded,
    )
    .await;
    match succeeded {
        Ok(()) => {}
        // Another delivery of the notification applied it meanwhile.
        Err(e) if e.code == ErrorCode::InvalidTransition => return Ok(Some(true)),
        Err(e) => return Err(e),
    }
    let bill = fee_bill::Entity::find_by_id(payment.bill_id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let applied = payment.amount.min(outstanding(&bill));
    let excess = payment.amount.checked_sub(applied).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "fee payment {} applied {applied} of {}",
            payment.id,
            payment.amount
        ))
    })?;
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
        crate::outbox::service::notify(
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
