//! Orchestration: where one fact moves several capabilities. Capabilities
//! do not call back into each other; a flow calls each in turn, in the
//! caller's transaction.
//!
//! - [`orders`]: an order's move that lets go of paid money refunds it and
//!   ends its dispute.
//! - [`payments`]: a payment arrives: the order is paid, the money posted,
//!   the group buy succeeds at its minimum; money too late is sent back.
//! - [`disputes`]: a resolution refunds and moves the order.
//! - [`group_buys`]: an organiser's move carries the group buy's orders
//!   along; a called-off group buy's orders are cancelled or refunded.
//! - [`dev_login`]: development only: a person with the roles asked for,
//!   signed in.
//! - [`merchants`]: a merchant that may no longer sell in a community has
//!   its group buys there paused.

pub mod dev_login;
pub mod disputes;
pub mod group_buys;
pub mod merchants;
pub mod orders;
pub mod payments;
