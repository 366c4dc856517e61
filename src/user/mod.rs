//! Users: the people behind every role. `GET /api/v1/me` and password changes.

pub mod routes;
pub mod service;
pub mod views;
