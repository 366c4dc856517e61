//! A group buy's machine, and who may organise one.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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
    /// Who runs a group buy.
    OrganiserKind {
        /// A merchant approved in the community.
        Merchant = "merchant",
        /// The property itself (邻里专属: local produce and the like).
        Property = "property",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

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
