//! Settlement (结算): confirmed orders' money goes from escrow to their
//! merchant the same business day, and merchants ask for it to be paid out
//! (withdrawals, by bank transfer or WeChat Pay's merchant transfer).
//!
//! - [`service`]: the daily settlement, merchants' balances and statements,
//!   the commission, withdrawals.
//! - [`payouts`]: what ends a payout (shared by finance's decisions and
//!   WeChat Pay's transfer results); [`transfer`]: payouts by WeChat
//!   transfer.
//! - [`routes`]: the handlers and their table; [`views`]: what they take
//!   and answer.

pub mod payouts;
pub mod routes;
pub mod service;
pub mod transfer;
pub mod views;
