//! The persistent outbox for outbound WeChat messages (template, subscribe
//! and customer-service messages).
//!
//! - [`service::notify`] writes a message in the caller's transaction, so it exists
//!   exactly when the change that caused it does.
//! - The worker ([`Worker`]) claims due rows in short transactions
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), so
//!   any number of instances deliver without taking the same row; a claim is
//!   a lease, so a crashed worker's rows are retried after `outbox.lease_secs`.
//! - Transient failures retry with exponential backoff; permanent ones (the
//!   person refused, the template is gone) fail at once. A global rate limit
//!   (`outbox.rate_per_sec`, counted in the database) spans all instances.
//! - In sandbox mode nothing goes to WeChat: messages land in the sandbox
//!   inbox (`GET /api/v1/dev/sandbox/inbox`).
//! - WeChat Pay refund requests ([`pay_refund`]) and merchants' payouts by
//!   WeChat transfer ([`pay_transfer`]) travel the same way: decided
//!   in the business transaction, sent (and retried) by the worker, so a
//!   crash between deciding and calling never loses one.

pub mod routes;
pub mod service;
pub mod views;
pub mod worker;

pub use worker::{ChannelSender, Worker};
