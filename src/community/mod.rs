//! Communities (小区), the tenant boundary, and the staff who run them.

pub mod cache;
pub mod routes;
pub mod service;
pub mod views;
