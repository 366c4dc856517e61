//! A dispute's machine (协商, then 物业调解), and the steps its history records.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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
