//! A refund's machine, and where a refund goes.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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
