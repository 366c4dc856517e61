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
