//! The state machines: one file per machine, each status an enum with every
//! allowed move written out once (`may_become`). Services ask it and then
//! apply the move with a conditional update (`… WHERE status = <from>`), so
//! two instances racing for the same move cannot both win. Each file also
//! holds the kinds its records name (how an order is paid, where a refund
//! goes, …).

/// A state machine's status: the moves it allows and the name of what it is
/// the status of, for `db::transition` and its messages.
pub trait Machine: Copy + PartialEq + std::fmt::Display + serde::Serialize {
    /// What moves through this machine ("order", "group buy").
    const NOUN: &'static str;
    /// The noun's indefinite article ("an order", "a group buy").
    const ARTICLE: &'static str;
    /// Whether `self` may move to `to`.
    fn may_become(self, to: Self) -> bool;
}

macro_rules! machine {
    ($($status:ty => $article:literal $noun:literal),+ $(,)?) => {$(
        impl Machine for $status {
            const NOUN: &'static str = $noun;
            const ARTICLE: &'static str = $article;
            fn may_become(self, to: Self) -> bool {
                <$status>::may_become(self, to)
            }
        }
    )+};
}

machine!(
    OrderStatus => "an" "order",
    GroupBuyStatus => "a" "group buy",
    DisputeStatus => "a" "dispute",
    WithdrawalStatus => "a" "withdrawal",
    FeeBillStatus => "a" "fee bill",
    FeePaymentStatus => "a" "fee payment",
);

pub mod dispute;
pub mod fee_bill;
pub mod group_buy;
pub mod order;
pub mod pickup_code;
pub mod refund;
pub mod withdrawal;

pub use dispute::{DisputeAction, DisputeStatus};
pub use fee_bill::{FeeBillStatus, FeePaymentStatus};
pub use group_buy::{GroupBuyStatus, OrganiserKind};
pub use order::{ActorRole, ClientKind, Fulfilment, OrderStatus, PaymentMethod};
pub use pickup_code::PickupCodeStatus;
pub use refund::{RefundStatus, RefundTo};
pub use withdrawal::WithdrawalStatus;
