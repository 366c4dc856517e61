//! A merchant's withdrawal (payout): its machine.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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
