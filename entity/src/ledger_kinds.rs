//! The ledger's vocabulary: the kinds of account, and what a journal entry
//! records.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

string_enum!(
    /// The kinds of ledger account. Assets are debit-normal (their balance
    /// is what the lines debit minus what they credit); the others are
    /// credit-normal.
    LedgerAccountKind {
        /// Asset: money the property holds at WeChat Pay (the sandbox posts
        /// here too). One for the company.
        WechatClearing = "wechat_clearing",
        /// Liability: residents' payments held until the order settles or is
        /// refunded. One per community; lines name the order.
        Escrow = "escrow",
        /// Liability: refunds decided, not yet confirmed by the provider.
        /// One for the company.
        RefundsInFlight = "refunds_in_flight",
        /// Liability: what the property owes a merchant (never negative).
        MerchantPayable = "merchant_payable",
        /// Liability: payouts approved for a merchant, not yet paid out.
        PayoutsInFlight = "payouts_in_flight",
        /// Liability: a household's wallet (never negative).
        HouseholdWallet = "household_wallet",
        /// Asset: property fees billed to a household, not yet paid.
        FeeReceivable = "fee_receivable",
        /// Revenue: what the property earns from a community's orders
        /// (commission on merchants' sales, and its own sales).
        PropertyRevenue = "property_revenue",
        /// Revenue: property fees billed, per community.
        FeeRevenue = "fee_revenue",
        /// Expense: what WeChat Pay kept as its fee (手续费) on payments,
        /// less what it returned with refunds, as its daily bill says. One
        /// for the company.
        ProviderFees = "provider_fees",
    }
);

impl LedgerAccountKind {
    /// `+1` for debit-normal accounts, `-1` for credit-normal ones: a line's
    /// effect on the account's balance is `amount * sign`.
    pub fn sign(self) -> i64 {
        match self {
            LedgerAccountKind::WechatClearing
            | LedgerAccountKind::FeeReceivable
            | LedgerAccountKind::ProviderFees => 1,
            _ => -1,
        }
    }

    /// Balances that may never go below zero.
    pub fn never_negative(self) -> bool {
        matches!(
            self,
            LedgerAccountKind::MerchantPayable | LedgerAccountKind::HouseholdWallet
        )
    }
}

string_enum!(
    /// What a journal entry records.
    JournalKind {
        /// A resident paid an order (into escrow).
        Payment = "payment",
        /// A refund was decided (out of escrow).
        RefundDecided = "refund_decided",
        /// The provider confirmed a refund.
        RefundSucceeded = "refund_succeeded",
        /// The provider failed a refund: the money is held in escrow again.
        RefundFailed = "refund_failed",
        /// An order settled to its merchant.
        Settlement = "settlement",
        /// A merchant asked for a payout: set aside from the balance.
        WithdrawalRequested = "withdrawal_requested",
        /// Finance refused a payout: the amount is available again.
        WithdrawalRejected = "withdrawal_rejected",
        /// A payout was paid: the money left the property's account.
        WithdrawalPaid = "withdrawal_paid",
        /// A property-fee bill was issued to a household.
        FeeBilled = "fee_billed",
        /// A household paid (part of) a fee bill.
        FeePaid = "fee_paid",
        /// WeChat Pay brought more than the bill still owed: the excess is
        /// kept in the household's wallet.
        FeeOverpaid = "fee_overpaid",
        /// A fee bill voided: its receivable and revenue reversed.
        FeeVoided = "fee_voided",
        /// A merchant's balance and payouts, once kept for all its
        /// communities together, moved into one account per community
        /// (migration 24; `withdrawal_allocations` says which payout drew
        /// on which community).
        BalanceSplit = "balance_split",
        /// WeChat Pay's fee on one transaction (or the part it returned with
        /// a refund), booked from its daily trade bill.
        ProviderFee = "provider_fee",
    }
);
