//! A property-fee bill's machine, and that of one payment towards it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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

impl FeeBillStatus {
    /// Whether a bill may move from `self` to `to`: a part paid leaves it
    /// partly paid (again, for a second part) or paid; only a bill nothing
    /// was paid on is voided.
    pub fn may_become(self, to: FeeBillStatus) -> bool {
        use FeeBillStatus::*;
        matches!(
            (self, to),
            (Unpaid | PartiallyPaid, PartiallyPaid | Paid) | (Unpaid, Void)
        )
    }
}

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

impl FeePaymentStatus {
    /// Whether a payment may move from `self` to `to`: WeChat Pay's word
    /// that it was paid is taken even after it was closed (the money came).
    pub fn may_become(self, to: FeePaymentStatus) -> bool {
        use FeePaymentStatus::*;
        matches!(
            (self, to),
            (Pending | Closed, Succeeded) | (Pending, Closed)
        )
    }
}
