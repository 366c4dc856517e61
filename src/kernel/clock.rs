//! Time comes from Rust, in UTC, never from the database's `now()`.

use chrono::{DateTime, SubsecRound, Utc};

/// The current time, truncated to microseconds: what PostgreSQL stores, so a
/// value reads back equal to what was written on both engines.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
