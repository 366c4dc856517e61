//! Daily bill reconciliation (对账): each business day's trade bill (交易账单)
//! and fund-flow bill (资金账单) from WeChat Pay, kept line by line and held
//! against the ledger.
//!
//! - A day's bills exist from about 10:00 the next day, for the calendar day
//!   in Beijing time ([`BILL_ZONE`], whatever `payment.settlement_timezone`
//!   says). The sweep asks then, and every 30 minutes while WeChat
//!   Pay answers `STATEMENT_CREATING`; `NO_STATEMENT_EXIST` is a day without
//!   movements. Each day is claimed by a conditional update, so any number
//!   of instances may sweep; fetching a day again replaces its lines.
//! - A download is checked against the SHA-1 WeChat Pay gave for it (bill
//!   files carry no signature).
//! - WeChat Pay keeps a fee (手续费) on every payment and returns part of it
//!   with a refund: each is booked to `provider_fees` out of clearing, keyed
//!   by the transaction, once.
//! - The report ([`report`]) matches every line to its transaction by trade
//!   number, never by date, so a payment near midnight matches across the
//!   two days.

pub mod parse;
pub mod report;
pub mod routes;
pub mod service;

pub use service::{BILL_ZONE, Fetched, NotFetched, bill_day, fetch, sweep};
