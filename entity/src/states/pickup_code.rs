//! A pickup code's machine.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

string_enum!(
    /// Where a pickup code stands.
    PickupCodeStatus {
        /// Can be shown at the point.
        Active = "active",
        /// Verified: the order was collected with it.
        Used = "used",
        /// No longer valid (the order was collected with another code, or the
        /// collector was changed).
        Revoked = "revoked",
    }
);
