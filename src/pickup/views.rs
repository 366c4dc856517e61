//! Pickup as the API shows it: slots, codes, verifications, the
//! uncollected report and the message board, and the requests that change
//! them, with their parsing into checked values.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    OrderId, PickupNoteId, PickupPointId, PickupSlotId, UserId, pickup_code, pickup_slot,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kernel::error::{ApiError, ApiResult};
use crate::orders::views::Order;
use crate::pii::PhoneNumber;

// ---------------------------------------------------------------- slots

#[derive(Debug, Serialize, ToSchema)]
pub struct Slot {
    pub id: PickupSlotId,
    pub pickup_point_id: PickupPointId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    /// Places left.
    pub available: i32,
}

impl From<pickup_slot::Model> for Slot {
    fn from(s: pickup_slot::Model) -> Self {
        Self {
            id: s.id,
            pickup_point_id: s.pickup_point_id,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            capacity: s.capacity,
            available: (s.capacity - s.booked).max(0),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotPlan {
    /// The first day, in the community's time (`2026-11-24`).
    pub from: NaiveDate,
    /// How many days (1 to 14).
    pub days: u32,
    /// Minutes per slot (10 to 240).
    pub slot_minutes: u32,
    /// People per slot (1 to 1,000).
    pub capacity: i32,
}

/// A plan of slots, checked: each number within its bounds.
pub struct CheckedPlan {
    pub from: NaiveDate,
    pub days: u32,
    pub slot_minutes: u32,
    pub capacity: i32,
}

impl SlotPlan {
    pub fn parse(self) -> ApiResult<CheckedPlan> {
        if !(1..=14).contains(&self.days) {
            return Err(ApiError::invalid_field("days", "between 1 and 14"));
        }
        if !(10..=240).contains(&self.slot_minutes) {
            return Err(ApiError::invalid_field(
                "slot_minutes",
                "between 10 and 240",
            ));
        }
        if !(1..=1000).contains(&self.capacity) {
            return Err(ApiError::invalid_field("capacity", "between 1 and 1,000"));
        }
        Ok(CheckedPlan {
            from: self.from,
            days: self.days,
            slot_minutes: self.slot_minutes,
            capacity: self.capacity,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotChoice {
    pub slot_id: PickupSlotId,
}

// ---------------------------------------------------------------- codes

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collector {
    /// The neighbour's phone number: a verified resident of this community.
    pub phone: String,
}

impl Collector {
    pub fn parse(&self) -> ApiResult<PhoneNumber> {
        PhoneNumber::parse(&self.phone).map_err(|e| ApiError::invalid_field("phone", e))
    }
}

/// A code the caller holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct PickupCode {
    pub order_id: OrderId,
    pub pickup_point_id: PickupPointId,
    /// The 8 digits to show at the point.
    pub code: String,
    /// A code for collecting on a neighbour's behalf (代取).
    pub delegated: bool,
    pub issued_at: DateTime<Utc>,
}

impl From<(pickup_code::Model, String)> for PickupCode {
    fn from((c, code): (pickup_code::Model, String)) -> Self {
        Self {
            order_id: c.order_id,
            pickup_point_id: c.pickup_point_id,
            code,
            delegated: c.delegated,
            issued_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeEntry {
    /// The 8 digits the resident shows.
    pub code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupVerification {
    pub order: Order,
    /// Collected by a neighbour on the resident's behalf.
    pub delegated: bool,
    pub verified_by: UserId,
    pub verified_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Uncollected {
    pub order: Order,
    /// Waiting since.
    pub ready_since: Option<DateTime<Utc>>,
    pub last_reminded_at: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------- message board

#[derive(Debug, Serialize, ToSchema)]
pub struct Note {
    pub id: PickupNoteId,
    pub author_id: UserId,
    /// The author's name, masked (`王**`).
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    /// At most 200 characters.
    pub body: String,
}

impl NewNote {
    /// The note's text, trimmed: 1 to 200 characters.
    pub fn parse(&self) -> ApiResult<String> {
        crate::kernel::text::required("body", &self.body, 200)
    }
}
