//! Property-fee bills as the API shows them, and the requests finance and
//! residents send, parsed into the service's checked values.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    CommunityId, FeeBillId, FeeBillStatus, FeePaymentId, FeePaymentStatus, Fen, HouseholdId,
    PaymentMethod, UserId, fee_bill, fee_payment,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{self, Billing, Detail, Issued, Overdue, Rate, Reminders};
use crate::kernel::error::ApiResult;
use crate::payment::wechat_pay::RequestPayment;

/// One payment towards a bill; a succeeded one is a receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeePayment {
    /// The receipt number.
    pub id: FeePaymentId,
    pub method: PaymentMethod,
    /// Fen.
    pub amount: Fen,
    pub status: FeePaymentStatus,
    pub paid_by: UserId,
    pub paid_at: Option<DateTime<Utc>>,
    /// WeChat Pay's trade number, for the WeChat Pay part.
    pub out_trade_no: Option<String>,
}

impl From<fee_payment::Model> for FeePayment {
    fn from(p: fee_payment::Model) -> Self {
        Self {
            id: p.id,
            method: p.method,
            amount: p.amount,
            status: p.status,
            paid_by: p.paid_by,
            paid_at: p.paid_at,
            out_trade_no: p.out_trade_no,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeeBill {
    pub id: FeeBillId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub period: String,
    /// Fen.
    pub amount: Fen,
    /// Fen paid so far.
    pub paid_amount: Fen,
    /// Fen still owed.
    pub outstanding: Fen,
    pub status: FeeBillStatus,
    /// Square metres billed (generated bills), e.g. `89.56`.
    pub area_m2: Option<String>,
    /// Fen per square metre (generated bills).
    pub rate_fen: Option<i64>,
    pub due_on: NaiveDate,
    pub paid_at: Option<DateTime<Utc>>,
    pub issued_at: DateTime<Utc>,
    /// Voided by finance (`status` = `void`): when and why.
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
}

impl From<fee_bill::Model> for FeeBill {
    fn from(b: fee_bill::Model) -> Self {
        Self {
            outstanding: service::outstanding(&b),
            id: b.id,
            community_id: b.community_id,
            household_id: b.household_id,
            period: b.period,
            amount: b.amount,
            paid_amount: b.paid_amount,
            status: b.status,
            area_m2: b
                .area_centi_m2
                .map(|a| crate::structure::service::Area::from_centi(a).display()),
            rate_fen: b.rate_fen,
            due_on: b.due_on,
            paid_at: b.paid_at,
            issued_at: b.created_at,
            voided_at: b.voided_at,
            void_reason: b.void_reason,
        }
    }
}

/// A bill with its payments (receipts).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeeBillDetail {
    #[serde(flatten)]
    pub bill: FeeBill,
    /// The household's address.
    pub address: String,
    /// Oldest first.
    pub payments: Vec<FeePayment>,
}

impl From<Detail> for FeeBillDetail {
    fn from(d: Detail) -> Self {
        Self {
            bill: d.bill.into(),
            address: d.address,
            payments: d.payments.into_iter().map(FeePayment::from).collect(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// The period billed, as you name it (`2026-Q4`, `2026年`): one bill per
    /// household and period.
    pub period: String,
    /// Fen per square metre for the period.
    pub rate_fen: i64,
    pub due_on: NaiveDate,
}

impl Generation {
    pub fn parse(&self) -> ApiResult<(Billing, Rate)> {
        let billing = Billing::parse(&self.period, self.due_on)?;
        Ok((billing, Rate::parse(self.rate_fen)?))
    }
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

impl From<Issued> for Generated {
    fn from(i: Issued) -> Self {
        Self {
            issued: i.issued,
            already_billed: i.already_billed,
            without_area: i.without_area,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportTarget {
    pub period: String,
    pub due_on: NaiveDate,
}

impl ImportTarget {
    pub fn parse(&self) -> ApiResult<Billing> {
        Billing::parse(&self.period, self.due_on)
    }
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    pub issued: usize,
    /// Households already billed for the period (left as they were).
    pub already_billed: usize,
}

impl From<Issued> for Imported {
    fn from(i: Issued) -> Self {
        Self {
            issued: i.issued,
            already_billed: i.already_billed,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BillFilter {
    pub period: Option<String>,
    pub status: Option<FeeBillStatus>,
}

/// A bill past its due date with money still owed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Arrear {
    #[serde(flatten)]
    pub bill: FeeBill,
    pub address: String,
    pub days_overdue: i64,
    pub reminded_at: Option<DateTime<Utc>>,
}

impl From<Overdue> for Arrear {
    fn from(o: Overdue) -> Self {
        Self {
            days_overdue: o.days_overdue,
            reminded_at: o.bill.reminded_at,
            address: o.address,
            bill: o.bill.into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidBill {
    /// Why (billed in error, exempt, …): kept on the bill and in the ledger.
    pub reason: String,
}

impl VoidBill {
    /// The reason, checked (at most 200 characters).
    pub fn parse(&self) -> ApiResult<String> {
        crate::kernel::text::required("reason", &self.reason, 200)
    }
}

/// What a round of reminders did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reminded {
    /// Overdue bills reminded now.
    pub bills: usize,
    /// Messages queued (one per verified member of each household).
    pub messages: usize,
}

impl From<Reminders> for Reminded {
    fn from(r: Reminders) -> Self {
        Self {
            bills: r.bills,
            messages: r.messages,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeePay {
    /// Fen to take from the household's wallet (抵扣); the rest is paid by
    /// WeChat Pay (or the sandbox). 0 when absent.
    #[serde(default)]
    pub wallet: Fen,
}

/// What the resident's client does next.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeePaying {
    pub bill: FeeBillDetail,
    /// Present when WeChat Pay is to take the rest: call
    /// `wx.requestPayment` with these; the bill is paid when its
    /// notification arrives.
    pub request_payment: Option<RequestPayment>,
}
