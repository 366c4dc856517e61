//! Couriers (配送管理): registered by their merchant, or by the property for
//! its own couriers and those of third-party delivery companies; each with a
//! pass (通行证) that expires, and active or suspended. Gate logs and
//! delivery tracking build on these records.

pub mod routes;
pub mod service;
pub mod views;
