//! sea-orm entities for anjia, plus the domain id newtypes and the enums the
//! database stores. Request and response bodies live in the server crate:
//! these models are the storage shape, not the API contract.

pub mod ids;
pub mod roles;

pub mod community;
pub mod operator_admin;
pub mod refresh_token;
pub mod staff_role;
pub mod user;

pub use ids::*;
pub use roles::*;
