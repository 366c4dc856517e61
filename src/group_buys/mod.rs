//! Group buys (社区团购): organised by a merchant or the property, joined
//! by households, succeeding at a minimum of paying households, failing (and
//! refunding) below it at the deadline.

pub mod routes;
pub mod service;
pub mod views;
