//! Property-fee bills (物业费), and seed 001's "balances can offset the
//! property fee" (抵扣物业费).
//!
//! - Finance issue one bill per household and period: generated from the
//!   household's floor area and a rate per square metre
//!   ([`service::generate`]), or imported from a spreadsheet
//!   ([`service::import`]). Issuing posts Dr fee receivable (the household)
//!   / Cr fee revenue (the community).
//! - A member pays it ([`service::pay`]) from the household's wallet, by the
//!   payment provider, or both: the wallet part is taken at once, the rest
//!   is paid through the sandbox at once or through WeChat Pay, whose
//!   notification ([`service::wechat_paid`]) completes it. Each part is a
//!   row of `fee_payments`: a receipt once it succeeded. WeChat Pay trade
//!   numbers of fee payments start with [`service::TRADE_PREFIX`], which is
//!   how the shared notification route tells them from orders.
//! - Money WeChat Pay brings beyond what the bill still owes (a resident who
//!   paid twice from two phones) is kept in the household's wallet, never
//!   lost.
//! - Finance see the arrears and queue reminders through the outbox.

pub mod routes;
pub mod service;
pub mod views;
