//! The state machines of group buys and orders. Each status is an enum, and
//! every allowed move is written out once here: services ask
//! [`GroupBuyStatus::may_become`] / [`OrderStatus::may_become`] and then
//! apply the move with a conditional update (`… WHERE status = <from>`), so
//! two instances racing for the same move cannot both win.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum,
            Serialize, Deserialize, utoipa::ToSchema,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $value)] $variant,)+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $value,)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Where a group buy stands.
    GroupBuyStatus {
        /// Being prepared by its organiser; residents do not see it.
        Draft = "draft",
        /// Taking orders (from `starts_at` until the deadline).
        Open = "open",
        /// Enough households have paid; still taking orders until the
        /// deadline or the stock runs out.
        Succeeded = "succeeded",
        /// Past the deadline (or closed early) with the minimum reached.
        Closed = "closed",
        /// The organiser is preparing the goods.
        Fulfilling = "fulfilling",
        /// The goods are at the pickup points (or out for delivery).
        Ready = "ready",
        /// Done.
        Completed = "completed",
        /// The deadline passed below the minimum: every paid order refunded.
        Failed = "failed",
        /// Called off by the organiser or the property: every paid order refunded.
        Cancelled = "cancelled",
        /// Its merchant was suspended or rejected (or sent back to review)
        /// while it took orders: no joins, no payments. The property resumes
        /// it once the merchant is verified again, or cancels it; a deadline
        /// that passes meanwhile fails it.
        Paused = "paused",
    }
);

impl GroupBuyStatus {
    /// Whether the group buy may move from `self` to `to`.
    pub fn may_become(self, to: GroupBuyStatus) -> bool {
        use GroupBuyStatus::*;
        matches!(
            (self, to),
            (Draft, Open)
                | (Draft, Cancelled)
                | (Open, Succeeded)
                | (Open, Failed)
                | (Open, Cancelled)
                | (Succeeded, Closed)
                | (Succeeded, Cancelled)
                | (Closed, Fulfilling)
                | (Closed, Cancelled)
                | (Fulfilling, Ready)
                | (Ready, Completed)
                | (Open | Succeeded, Paused)
                | (Paused, Open)
                | (Paused, Succeeded)
                | (Paused, Cancelled)
                | (Paused, Failed)
        )
    }

    /// Where a paused group buy goes back to: succeeded if it had reached
    /// its minimum before it was paused, open otherwise.
    pub fn resumes_to(succeeded_before: bool) -> GroupBuyStatus {
        if succeeded_before {
            GroupBuyStatus::Succeeded
        } else {
            GroupBuyStatus::Open
        }
    }

    /// Whether residents may join now (the time window is checked apart).
    pub fn takes_orders(self) -> bool {
        matches!(self, GroupBuyStatus::Open | GroupBuyStatus::Succeeded)
    }

    /// Whether residents see it at all.
    pub fn is_public(self) -> bool {
        self != GroupBuyStatus::Draft
    }

    /// Paid orders of a group buy in this state are refunded.
    pub fn refunds_orders(self) -> bool {
        matches!(self, GroupBuyStatus::Failed | GroupBuyStatus::Cancelled)
    }
}

string_enum!(
    /// Where an order stands.
    OrderStatus {
        /// Submitted, stock held, waiting for payment until the deadline.
        PendingPayment = "pending_payment",
        /// Paid; waiting for the merchant (or, in a group buy, for the group).
        Paid = "paid",
        /// The merchant took it.
        Accepted = "accepted",
        /// Being prepared.
        Preparing = "preparing",
        /// Out for door delivery.
        Dispatched = "dispatched",
        /// Waiting at the pickup point.
        ReadyForPickup = "ready_for_pickup",
        /// Handed over at the door; the resident confirms (or it confirms itself).
        Delivered = "delivered",
        /// Received: collected, confirmed or auto-confirmed.
        Completed = "completed",
        /// Something went wrong (the merchant says what); resolved by going
        /// back to work or by a refund.
        Exception = "exception",
        /// Cancelled by the resident (refunded if it was paid).
        Cancelled = "cancelled",
        /// Not paid in time; its stock went back.
        Expired = "expired",
        /// Refused by the merchant, with a reason; refunded.
        Rejected = "rejected",
        /// Refunded (the group failed or was cancelled, or an exception was
        /// settled by a refund).
        Refunded = "refunded",
    }
);

impl OrderStatus {
    /// Whether an order may move from `self` to `to`.
    pub fn may_become(self, to: OrderStatus) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (PendingPayment, Paid)
                | (PendingPayment, Cancelled)
                | (PendingPayment, Expired)
                | (Paid, Accepted)
                | (Paid, Rejected)
                | (Paid, Cancelled)
                | (Paid, Refunded)
                | (Accepted, Preparing)
                | (Accepted, Exception)
                | (Accepted, Refunded)
                | (Preparing, Dispatched)
                | (Preparing, ReadyForPickup)
                | (Preparing, Exception)
                | (Dispatched, Delivered)
                | (Dispatched, Completed)
                | (Dispatched, Exception)
                | (Delivered, Completed)
                | (ReadyForPickup, Completed)
                | (ReadyForPickup, Exception)
                | (Exception, Preparing)
                | (Exception, Dispatched)
                | (Exception, ReadyForPickup)
                | (Exception, Refunded)
                // A dispute decided with a full refund (sellers refund only
                // from an exception; see `orders::routes::seller_move`).
                | (Preparing, Refunded)
                | (Dispatched, Refunded)
                | (ReadyForPickup, Refunded)
                | (Delivered, Refunded)
                | (Completed, Refunded)
        )
    }

    /// The order still holds stock (and, in a group buy, quota).
    pub fn holds_stock(self) -> bool {
        !matches!(
            self,
            OrderStatus::Cancelled
                | OrderStatus::Expired
                | OrderStatus::Rejected
                | OrderStatus::Refunded
        )
    }

    /// Money was taken for it and not given back.
    pub fn is_paid(self) -> bool {
        !matches!(
            self,
            OrderStatus::PendingPayment
                | OrderStatus::Cancelled
                | OrderStatus::Expired
                | OrderStatus::Rejected
                | OrderStatus::Refunded
        )
    }

    /// Nothing more happens to it (a completed order can still be refunded
    /// in full by a dispute decided before it settles).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Completed
                | OrderStatus::Cancelled
                | OrderStatus::Expired
                | OrderStatus::Rejected
                | OrderStatus::Refunded
        )
    }

    /// The statuses in which money is held for the order.
    pub const PAID: [OrderStatus; 8] = [
        OrderStatus::Paid,
        OrderStatus::Accepted,
        OrderStatus::Preparing,
        OrderStatus::Dispatched,
        OrderStatus::ReadyForPickup,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Exception,
    ];
}

string_enum!(
    /// Who runs a group buy.
    OrganiserKind {
        /// A merchant approved in the community.
        Merchant = "merchant",
        /// The property itself (邻里专属: local produce and the like).
        Property = "property",
    }
);

string_enum!(
    /// How an order reaches the resident.
    Fulfilment {
        /// Collected at a pickup point (自提).
        Pickup = "pickup",
        /// Brought to the door (送货上门).
        Delivery = "delivery",
    }
);

string_enum!(
    /// How an order was paid.
    PaymentMethod {
        /// The development provider: no money moves.
        Sandbox = "sandbox",
        /// WeChat Pay.
        WechatPay = "wechat_pay",
        /// The household's wallet (refunds kept there).
        Wallet = "wallet",
    }
);

string_enum!(
    /// Which client submitted an order.
    ClientKind {
        MiniProgram = "mini_program",
        /// The H5 pages inside WeChat (service-account menu).
        H5 = "h5",
        /// The property's back-office tools.
        Backoffice = "backoffice",
        Other = "other",
    }
);

string_enum!(
    /// In what capacity someone moved an order.
    ActorRole {
        Resident = "resident",
        Merchant = "merchant",
        Staff = "staff",
        /// Sweepers and cascades: no person.
        System = "system",
    }
);

string_enum!(
    /// Where a refund stands.
    RefundStatus {
        /// Decided, not yet confirmed by the provider.
        Pending = "pending",
        Succeeded = "succeeded",
        /// The provider could not make it: the money is held in escrow until
        /// finance retry it.
        Failed = "failed",
        /// Failed, then decided again by finance (a new refund carries the
        /// money).
        Retried = "retried",
    }
);

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
    /// Where a merchant's withdrawal stands.
    WithdrawalStatus {
        /// Asked for; the amount is set aside from the available balance.
        Requested = "requested",
        /// Finance approved it; the payment is being made.
        Approved = "approved",
        /// Finance refused it (with a reason); the amount is available again.
        Rejected = "rejected",
        /// Paid out (the transfer's reference is recorded).
        Paid = "paid",
    }
);

impl WithdrawalStatus {
    pub fn may_become(self, to: WithdrawalStatus) -> bool {
        use WithdrawalStatus::*;
        matches!(
            (self, to),
            (Requested, Approved) | (Requested, Rejected) | (Approved, Paid) | (Approved, Rejected)
        )
    }
}

string_enum!(
    /// Where a refund goes.
    RefundTo {
        /// Back the way it was paid (a wallet payment goes back to the wallet).
        Original = "original",
        /// Into the household's wallet, to pay orders and property fees later.
        Wallet = "wallet",
    }
);

// The macro derives a fixed set; `Original` is the default.
#[allow(clippy::derivable_impls)]
impl Default for RefundTo {
    fn default() -> Self {
        RefundTo::Original
    }
}

string_enum!(
    /// Where a dispute stands. Residents and merchants negotiate first
    /// (协商); customer service decides once it is escalated (物业调解).
    DisputeStatus {
        /// Opened by the resident; waiting for the merchant's answer.
        Open = "open",
        /// The merchant offered a smaller refund; waiting for the resident.
        Proposed = "proposed",
        /// The merchant refused; the resident may escalate or withdraw.
        MerchantRejected = "merchant_rejected",
        /// With customer service, who decide (on request, or automatically
        /// after `payment.dispute_escalation_days`).
        Escalated = "escalated",
        /// Decided: the refund (if any) is made and the rest settles.
        Resolved = "resolved",
        /// Dropped by the resident; the order settles as usual.
        Withdrawn = "withdrawn",
    }
);

impl DisputeStatus {
    /// Whether a dispute may move from `self` to `to`.
    pub fn may_become(self, to: DisputeStatus) -> bool {
        use DisputeStatus::*;
        matches!(
            (self, to),
            (Open, Proposed)
                | (Open, MerchantRejected)
                | (Open | Proposed | MerchantRejected, Escalated)
                | (Open | Proposed | Escalated, Resolved)
                | (Open | Proposed | MerchantRejected | Escalated, Withdrawn)
        )
    }

    /// Still being worked out: the order's money stays in escrow.
    pub fn is_live(self) -> bool {
        !matches!(self, DisputeStatus::Resolved | DisputeStatus::Withdrawn)
    }

    /// The live statuses, for SQL `IN (…)` lists.
    pub const LIVE: [DisputeStatus; 4] = [
        DisputeStatus::Open,
        DisputeStatus::Proposed,
        DisputeStatus::MerchantRejected,
        DisputeStatus::Escalated,
    ];
}

string_enum!(
    /// One step of a dispute.
    DisputeAction {
        /// The resident opened it (reason, photos, the refund asked for).
        Opened = "opened",
        /// The merchant agreed to the refund asked for.
        Accepted = "accepted",
        /// The merchant offered a smaller refund.
        Proposed = "proposed",
        /// The merchant refused.
        Rejected = "rejected",
        /// The resident took the merchant's offer.
        ProposalAccepted = "proposal_accepted",
        /// Handed to customer service (by the resident, or by the clock).
        Escalated = "escalated",
        /// Customer service decided.
        Decided = "decided",
        /// The resident dropped it.
        Withdrawn = "withdrawn",
    }
);

string_enum!(
    /// Where a property-fee bill stands.
    FeeBillStatus {
        /// Nothing paid yet.
        Unpaid = "unpaid",
        /// Some paid (a wallet part, say), the rest still owed.
        PartiallyPaid = "partially_paid",
        /// Paid in full.
        Paid = "paid",
        /// Voided by finance before anything was paid: owes nothing, and
        /// the period may be billed again.
        Void = "void",
    }
);

string_enum!(
    /// Where one payment towards a fee bill stands.
    FeePaymentStatus {
        /// WeChat Pay was asked; waiting for its notification.
        Pending = "pending",
        /// The money arrived: this is a receipt.
        Succeeded = "succeeded",
        /// Not paid in time; closed.
        Closed = "closed",
    }
);

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

string_enum!(
    /// Where a pickup code stands.
    PickupCodeStatus {
        /// Can be shown at the point.
        Active = "active",
        /// Verified: the order was collected with it.
        Used = "used",
        /// No longer valid (the order was collected with another code, or the
        /// collector was changed).
        Revoked = "revoked",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn final_orders_go_nowhere_but_a_completed_one_to_a_dispute_s_full_refund() {
        for from in OrderStatus::iter().filter(|s| s.is_final()) {
            for to in OrderStatus::iter() {
                let allowed = from == OrderStatus::Completed && to == OrderStatus::Refunded;
                assert_eq!(from.may_become(to), allowed, "{from} -> {to}");
            }
        }
    }

    #[test]
    fn every_order_status_is_reachable_from_submission() {
        let mut seen = vec![OrderStatus::PendingPayment];
        let mut i = 0;
        while i < seen.len() {
            for to in OrderStatus::iter() {
                if seen[i].may_become(to) && !seen.contains(&to) {
                    seen.push(to);
                }
            }
            i += 1;
        }
        assert_eq!(seen.len(), OrderStatus::iter().count());
    }

    #[test]
    fn money_is_held_exactly_while_the_order_holds_stock_and_was_paid() {
        for s in OrderStatus::iter() {
            assert_eq!(OrderStatus::PAID.contains(&s), s.is_paid(), "{s}");
            if s.is_paid() {
                assert!(s.holds_stock(), "{s}");
            }
        }
    }

    #[test]
    fn failed_and_cancelled_group_buys_are_the_end() {
        for from in [
            GroupBuyStatus::Failed,
            GroupBuyStatus::Cancelled,
            GroupBuyStatus::Completed,
        ] {
            for to in GroupBuyStatus::iter() {
                assert!(!from.may_become(to));
            }
        }
        assert!(!GroupBuyStatus::Fulfilling.may_become(GroupBuyStatus::Cancelled));
    }

    #[test]
    fn only_group_buys_taking_orders_pause_and_a_paused_one_takes_none() {
        for from in GroupBuyStatus::iter() {
            assert_eq!(
                from.may_become(GroupBuyStatus::Paused),
                from.takes_orders(),
                "{from}"
            );
        }
        let paused = GroupBuyStatus::Paused;
        assert!(!paused.takes_orders());
        let out: Vec<_> = GroupBuyStatus::iter()
            .filter(|to| paused.may_become(*to))
            .collect();
        assert_eq!(
            out,
            [
                GroupBuyStatus::Open,
                GroupBuyStatus::Succeeded,
                GroupBuyStatus::Failed,
                GroupBuyStatus::Cancelled
            ]
        );
    }
}
