//! Personal data (个人信息保护): responses show phone and ID numbers masked.
//! Staff who need a full value ask for it here, one value at a time, saying
//! why; each access is logged (who, whose, what, why, when) and the
//! community's manager can list the log.

pub mod routes;
pub mod service;
pub mod views;
