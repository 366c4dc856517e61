//! A community's structure: buildings (楼栋), units (单元), households (户),
//! gates (门岗), pickup points (自提点), and the property's register of owners
//! (业主登记) with its CSV import.

pub mod routes;
pub mod service;
pub mod views;
