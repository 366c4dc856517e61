//! Disputes (售后纠纷): seed 001's "orders the two sides disagree on are
//! negotiated between them, and the property mediates when they cannot
//! agree".
//!
//! - A resident opens one on an order the merchant has taken, within
//!   `payment.dispute_window_days` of its fulfilment and before it settles,
//!   asking for some or all of the money back, with a reason and photos.
//!   While it is live the order's money stays in escrow: settlement skips
//!   the order ([`crate::settlement::service::settle_due`]).
//! - The merchant accepts (the refund asked for), proposes a smaller one, or
//!   rejects. The resident takes a proposal, escalates, or withdraws.
//! - Customer service decide an escalated dispute: full, partial or no
//!   refund. Disputes nobody settled escalate by themselves after
//!   `payment.dispute_escalation_days` ([`service::escalate_due`], in the sweep).
//! - Resolution executes at once, in the same transaction
//!   (`crate::flows::disputes`): the refund through
//!   [`crate::payment::service::refunds::refund_to`] keyed `dispute:<id>` (so it can never be
//!   paid twice), then the order moves on: refunded in full, or completed so
//!   the rest settles to the merchant at the next cutoff.
//!
//! Every move is [`entity::DisputeStatus::may_become`] applied with a
//! conditional update (`WHERE status = <from>`) and an entry in
//! `dispute_events`, which keep the whole history.

pub mod routes;
pub mod service;
pub mod views;
