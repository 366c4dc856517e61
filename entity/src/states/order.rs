//! An order's machine, and the kinds an order records: how it is fulfilled and
//! paid, which client submitted it, and in what capacity someone moved it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

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
}
