//! The catalog (信息发布): a category tree the operator edits, and each
//! merchant's products and services. Residents see a product only where its
//! merchant may sell (verified, and not expired, in their community).

pub mod routes;
pub mod search;
pub mod service;
pub mod views;
