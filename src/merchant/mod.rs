//! Merchants (商家管理): applications, the property's verification of each
//! merchant in each community it serves (with visits, 扫街), expiry and
//! re-verification, suspension, merchant staff, and self-service.

pub mod routes;
pub mod service;
pub mod views;
