//! Orders (订单管理): submission with stock reservation, the state machine
//! and its event log, payment, seller moves. See `service` for the rules.

pub mod routes;
pub mod service;
pub mod views;
