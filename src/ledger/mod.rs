//! The escrow ledger: double entry, in the same transaction as the business
//! change it records.
//!
//! Residents pay into the property's hands, never the merchant's: a payment
//! debits WeChat clearing and credits the community's escrow (tagged with the
//! order); a refund takes the money back out of escrow; settlement moves it
//! to the merchant's payable balance (less any commission). Every movement is
//! one [`Entry`] whose lines sum to zero, posted with [`post`]:
//!
//! - an entry's key names the business fact (`payment:<order>`), and a fact
//!   already recorded is not recorded again, so retries, duplicate
//!   notifications and two sweepers racing cannot double-count;
//! - merchants' and wallets' balances are kept on their account row and may
//!   never go negative (a guarded update, and a database check behind it);
//!   the company-wide accounts every payment touches keep no balance row, so
//!   no payment waits on another's lock: their balance is the sum of their
//!   lines.
//!
//! [`verify`] checks every invariant (`anjia ledger verify`).

pub mod account;
pub mod service;
mod verify;

// The ledger as the rest of the code names it (`ledger::post`, …).
pub use account::Account;
pub use service::{Entry, Posted, balance, escrow_of, post, post_many};
pub use verify::{Report, verify};
