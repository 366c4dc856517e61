//! What settlement's routes take and answer: merchants' balances and
//! statements, the commission, withdrawals.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    CommunityId, Fen, MerchantId, UserId, WithdrawalId, WithdrawalStatus, withdrawal,
    withdrawal_allocation,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult};

/// What the property holds for a merchant, community by community: each
/// community's property holds, settles and pays out what the merchant
/// earned there.
#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantBalance {
    pub merchant_id: MerchantId,
    /// The property's commission, in basis points (100 = 1%).
    pub commission_bp: i32,
    /// One per community the merchant sells (or sold) in.
    pub communities: Vec<CommunityBalance>,
}

/// A merchant's money in one community.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityBalance {
    pub community_id: CommunityId,
    pub community_name: String,
    /// Settled to the merchant, not yet paid out (fen): what it may
    /// withdraw from this community.
    pub available: Fen,
    /// Paid by residents for orders not yet settled, held in escrow (fen,
    /// before commission).
    pub in_escrow: Fen,
    /// Payouts asked for or approved, not yet paid (fen).
    pub payouts_in_flight: Fen,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// Only this community's figures.
    pub community_id: Option<CommunityId>,
}

/// One settled order on a statement.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatementLine {
    pub order_no: String,
    pub settled_at: DateTime<Utc>,
    /// What the resident paid and was not refunded (fen).
    pub gross: Fen,
    /// The property's commission (fen).
    pub commission: Fen,
    /// Credited to the merchant (fen).
    pub net: Fen,
}

/// A merchant's settlements on one business day, community by community.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyStatement {
    pub merchant_id: MerchantId,
    /// The business day (`payment.settlement_timezone`).
    pub date: NaiveDate,
    /// One per community the merchant sells (or sold) in.
    pub communities: Vec<CommunityStatement>,
}

/// What settled to a merchant in one community on the day.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityStatement {
    pub community_id: CommunityId,
    pub community_name: String,
    pub lines: Vec<StatementLine>,
    pub orders: usize,
    pub gross: Fen,
    pub commission: Fen,
    pub net: Fen,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// `csv` for a spreadsheet; JSON otherwise.
    pub format: Option<String>,
    /// Only this community's settlements.
    pub community_id: Option<CommunityId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Commission {
    /// Basis points of each settled order the property keeps (0 to 10,000;
    /// 250 = 2.5%).
    pub commission_bp: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantCommission {
    pub merchant_id: MerchantId,
    pub commission_bp: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Withdrawal {
    pub id: WithdrawalId,
    pub merchant_id: MerchantId,
    /// The community whose balance pays it.
    pub community_id: CommunityId,
    /// Fen.
    pub amount: Fen,
    /// What each community's balance pays of it: the one community, for a
    /// payout asked for since balances are kept per community; possibly
    /// several for an older one (first in, first out by settlement date).
    pub allocations: Vec<Allocation>,
    pub status: WithdrawalStatus,
    pub requested_by: UserId,
    pub requested_at: DateTime<Utc>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub paid_by: Option<UserId>,
    pub paid_at: Option<DateTime<Utc>>,
    pub payout_reference: Option<String>,
    /// Paid by WeChat transfer: its state as WeChat Pay reported it
    /// (`queued` until sent; `WAIT_USER_CONFIRM`: the owner confirms).
    pub transfer_state: Option<String>,
    /// While the owner must confirm: pass as `package` to
    /// `wx.requestMerchantTransfer` in the mini-program.
    pub transfer_package: Option<String>,
}

/// One community's part of a withdrawal.
#[derive(Debug, Serialize, ToSchema)]
pub struct Allocation {
    pub community_id: CommunityId,
    /// Fen.
    pub amount: Fen,
}

impl Withdrawal {
    /// A withdrawal with the parts each community's balance pays.
    pub fn new(w: withdrawal::Model, allocations: Vec<withdrawal_allocation::Model>) -> Self {
        Self {
            id: w.id,
            merchant_id: w.merchant_id,
            community_id: w.community_id,
            amount: w.amount,
            allocations: allocations
                .into_iter()
                .map(|a| Allocation {
                    community_id: a.community_id,
                    amount: a.amount,
                })
                .collect(),
            status: w.status,
            requested_by: w.requested_by,
            requested_at: w.created_at,
            decided_by: w.decided_by,
            decided_at: w.decided_at,
            reason: w.reason,
            paid_by: w.paid_by,
            paid_at: w.paid_at,
            payout_reference: w.payout_reference,
            transfer_state: w.transfer_state,
            transfer_package: w.transfer_package,
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWithdrawal {
    /// Fen; at most the available balance in the community.
    pub amount: Fen,
    /// The community whose balance pays it (each community's property
    /// holds and pays out what the merchant earned there).
    pub community_id: CommunityId,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunityFilter {
    /// Only this community's.
    pub community_id: Option<CommunityId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalDecision {
    /// `approved`, `rejected` (with a reason) or `paid` (with the
    /// transfer's reference).
    pub status: WithdrawalStatus,
    /// Required to reject; at most 200 characters.
    pub reason: Option<String>,
    /// Required for `paid`: the bank or WeChat transfer's reference.
    pub payout_reference: Option<String>,
}

impl Commission {
    /// The commission checked: 0 to 10,000 basis points.
    pub fn parse(self) -> ApiResult<i32> {
        if !(0..=10_000).contains(&self.commission_bp) {
            return Err(ApiError::invalid_field(
                "commission_bp",
                "must be from 0 to 10000 (basis points)",
            ));
        }
        Ok(self.commission_bp)
    }
}

/// A payout asked for, checked: more than nothing, from one community.
pub struct WithdrawalAsked {
    pub amount: Fen,
    pub community: CommunityId,
}

impl NewWithdrawal {
    pub fn parse(self) -> ApiResult<WithdrawalAsked> {
        if self.amount == Fen::ZERO {
            return Err(ApiError::invalid_field("amount", "must be more than zero"));
        }
        Ok(WithdrawalAsked {
            amount: self.amount,
            community: self.community_id,
        })
    }
}
