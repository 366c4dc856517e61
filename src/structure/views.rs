//! What the structure routes take and answer, and the checks that turn a
//! request into the service's checked values.

use chrono::{DateTime, Utc};
use entity::pickup_point::{OpeningHours, OpeningPeriod};
use entity::{
    BuildingId, GateId, HouseholdId, OwnerRecordId, PickupPointId, UnitId, building, gate,
    household, owner_record, pickup_point, unit,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::{
    self, Area, HouseholdFields, HouseholdSearch, PickupPointChangeSet, PickupPointFields,
};
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;

// ---------------------------------------------------------------- buildings

#[derive(Debug, Serialize, ToSchema)]
pub struct Building {
    pub id: BuildingId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<building::Model> for Building {
    fn from(m: building::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewName {
    pub name: String,
}

impl NewName {
    /// A building's, unit's or gate's name: at most 50 characters.
    pub fn parse(self) -> ApiResult<String> {
        text::required("name", &self.name, 50)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    pub id: UnitId,
    pub building_id: BuildingId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<unit::Model> for Unit {
    fn from(m: unit::Model) -> Self {
        Self {
            id: m.id,
            building_id: m.building_id,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

// ---------------------------------------------------------------- households

#[derive(Debug, Serialize, ToSchema)]
pub struct Household {
    pub id: HouseholdId,
    pub building_id: BuildingId,
    pub unit_id: Option<UnitId>,
    pub room: String,
    /// Square metres with two decimals, e.g. `"89.50"`.
    pub area_m2: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<household::Model> for Household {
    fn from(m: household::Model) -> Self {
        Self {
            id: m.id,
            building_id: m.building_id,
            unit_id: m.unit_id,
            room: m.room,
            area_m2: m.area_centi_m2.map(|a| Area::from_centi(a).display()),
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHousehold {
    pub building_id: BuildingId,
    pub unit_id: Option<UnitId>,
    pub room: String,
    /// Square metres, at most two decimals, as a string: `"89.50"`.
    pub area_m2: Option<String>,
}

impl NewHousehold {
    pub fn parse(self) -> ApiResult<HouseholdFields> {
        Ok(HouseholdFields {
            building: self.building_id,
            unit: self.unit_id,
            room: service::parse_room(&self.room)?,
            area: self
                .area_m2
                .as_deref()
                .map(|a| Area::parse(a).map_err(|e| ApiError::invalid_field("area_m2", e)))
                .transpose()?,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HouseholdFilter {
    pub building_id: Option<BuildingId>,
    pub unit_id: Option<UnitId>,
    /// Exact room number.
    pub room: Option<String>,
}

impl HouseholdFilter {
    pub fn search(&self) -> HouseholdSearch {
        HouseholdSearch {
            building: self.building_id,
            unit: self.unit_id,
            room: self.room.as_deref().map(|r| r.trim().to_owned()),
        }
    }
}

// ---------------------------------------------------------------- gates

#[derive(Debug, Serialize, ToSchema)]
pub struct Gate {
    pub id: GateId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<gate::Model> for Gate {
    fn from(m: gate::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            created_at: m.created_at,
        }
    }
}

// ---------------------------------------------------------------- pickup points

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPoint {
    pub id: PickupPointId,
    pub name: String,
    pub location: String,
    /// In the community's time zone.
    pub opening_hours: OpeningHours,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<pickup_point::Model> for PickupPoint {
    fn from(m: pickup_point::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            location: m.location,
            opening_hours: m.opening_hours,
            active: m.active,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPickupPoint {
    pub name: String,
    /// Where to find it, e.g. `3号楼大堂`.
    pub location: String,
    pub opening_hours: Vec<OpeningPeriod>,
}

impl NewPickupPoint {
    pub fn parse(self) -> ApiResult<PickupPointFields> {
        Ok(PickupPointFields {
            name: parse_point_name(&self.name)?,
            location: parse_location(&self.location)?,
            hours: service::parse_opening_hours(self.opening_hours)?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PickupPointChanges {
    pub name: Option<String>,
    pub location: Option<String>,
    pub opening_hours: Option<Vec<OpeningPeriod>>,
    /// A closed point takes no new orders or bookings.
    pub active: Option<bool>,
}

impl PickupPointChanges {
    pub fn parse(self) -> ApiResult<PickupPointChangeSet> {
        Ok(PickupPointChangeSet {
            name: self.name.as_deref().map(parse_point_name).transpose()?,
            location: self.location.as_deref().map(parse_location).transpose()?,
            hours: self
                .opening_hours
                .map(service::parse_opening_hours)
                .transpose()?,
            active: self.active,
        })
    }
}

fn parse_point_name(value: &str) -> ApiResult<String> {
    text::required("name", value, 50)
}

fn parse_location(value: &str) -> ApiResult<String> {
    text::required("location", value, 200)
}

// ---------------------------------------------------------------- owner records

/// An owner in the property's register, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerRecord {
    pub id: OwnerRecordId,
    pub household_id: HouseholdId,
    pub owner_name: String,
    /// `138****1234`
    pub phone: String,
    /// `350***********123X`
    pub id_number: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<owner_record::Model> for OwnerRecord {
    fn from(m: owner_record::Model) -> Self {
        Self {
            id: m.id,
            household_id: m.household_id,
            owner_name: m.owner_name,
            phone: m.phone_masked,
            id_number: m.id_number_masked,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnerFilter {
    pub household_id: Option<HouseholdId>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Check every row and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}
