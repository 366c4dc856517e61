//! The payment port: how an order's or a property-fee bill's money comes in
//! and goes back, through the configured provider (the sandbox in
//! development, where no money moves; WeChat Pay) or the household's
//! wallet.
//!
//! - [`service`]: a payment starts ([`service::start`]), is posted into
//!   escrow, is refunded once per decision ([`service::refunds`]); the
//!   household's wallet.
//! - A payment is applied by the payments flow (`flows/payments.rs`), the
//!   one internal path the wallet, the sandbox and a verified WeChat Pay
//!   notification all take.
//! - [`wechat_pay`]: the provider (its protocol, notifications,
//!   reconciliation and daily bills).
//! - [`routes`]: the wallet, finance's refunds, and the table of every
//!   payment route.

pub mod routes;
pub mod service;
pub mod views;
pub mod wechat_pay;
