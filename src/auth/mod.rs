//! Who is calling, and what they may do.
//!
//! - [`access`]: the rule each route declares and the one guard that enforces
//!   it (tokens, operator admins, community roles, tenant isolation).
//! - [`jwt`]: short-lived access tokens.
//! - [`password`]: argon2id hashing off the async threads.
//! - [`service`]: login, rotating refresh tokens, logout, the development login.
//! - [`views`]: what the sign-in endpoints take and answer.
//! - [`table`]: one endpoint with its access rule ([`ApiRoute`]).
//! - [`routes`]: the `/api/v1/auth/*` and `/api/v1/dev/login` handlers.

pub mod access;
pub mod jwt;
pub mod password;
pub mod principal;
pub mod routes;
pub mod service;
pub mod table;
pub mod views;

pub use access::{Access, Caller, CommunityScope, CompanyScope, MerchantScope};
pub use principal::Principal;
pub use table::{ApiRoute, route};
