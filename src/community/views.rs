//! What the community routes take and answer, and the checks that turn a
//! request into the service's checked values.

use chrono::{DateTime, Utc};
use entity::{CommunityId, StaffRole, StaffRoleId, UserId, community, staff_role, user};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::{CommunityChangeSet, CommunityFields, StaffGrant};
use crate::auth::password::Password;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;
use crate::pii::PhoneNumber;

/// A community (小区) as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Community {
    pub id: CommunityId,
    pub name: String,
    pub address: String,
    /// IANA time zone, e.g. `Asia/Shanghai`: local times (pickup slots,
    /// settlement cut-offs) are computed in it.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<community::Model> for Community {
    fn from(m: community::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            address: m.address,
            timezone: m.timezone,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommunity {
    pub name: String,
    pub address: String,
    /// Default `Asia/Shanghai`.
    pub timezone: Option<String>,
}

impl NewCommunity {
    pub fn parse(self) -> ApiResult<CommunityFields> {
        Ok(CommunityFields {
            name: parse_name(&self.name)?,
            address: parse_address(&self.address)?,
            timezone: parse_timezone(self.timezone.as_deref().unwrap_or("Asia/Shanghai"))?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommunityChanges {
    pub name: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
}

impl CommunityChanges {
    pub fn parse(self) -> ApiResult<CommunityChangeSet> {
        Ok(CommunityChangeSet {
            name: self.name.as_deref().map(parse_name).transpose()?,
            address: self.address.as_deref().map(parse_address).transpose()?,
            timezone: self.timezone.as_deref().map(parse_timezone).transpose()?,
        })
    }
}

fn parse_name(value: &str) -> ApiResult<String> {
    text::required("name", value, 100)
}

fn parse_address(value: &str) -> ApiResult<String> {
    text::required("address", value, 255)
}

/// An IANA zone name such as `Asia/Shanghai`.
fn parse_timezone(value: &str) -> ApiResult<String> {
    let value = value.trim();
    value
        .parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            ApiError::invalid_field(
                "timezone",
                "must be an IANA time zone such as Asia/Shanghai",
            )
        })
}

/// One staff role held by one person.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffAssignment {
    pub id: StaffRoleId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked: `138****1234`.
    pub phone: Option<String>,
    pub role: StaffRole,
    pub granted_at: DateTime<Utc>,
}

impl From<(staff_role::Model, user::Model)> for StaffAssignment {
    fn from((a, u): (staff_role::Model, user::Model)) -> Self {
        Self {
            id: a.id,
            user_id: u.id,
            display_name: u.display_name,
            phone: u.phone_masked,
            role: a.role,
            granted_at: a.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// The person's mainland mobile number: finds them, or creates them.
    pub phone: String,
    /// Name for a new user (ignored for an existing one).
    pub display_name: String,
    pub role: StaffRole,
    /// Password for a new user's back-office sign-in (8 to 128 characters);
    /// required when the phone number is new, ignored otherwise.
    pub initial_password: Option<String>,
}

impl NewStaff {
    pub fn parse(self) -> ApiResult<StaffGrant> {
        Ok(StaffGrant {
            phone: PhoneNumber::parse(&self.phone)
                .map_err(|e| ApiError::invalid_field("phone", e))?,
            display_name: text::required("display_name", &self.display_name, 64)?,
            role: self.role,
            initial_password: self
                .initial_password
                .map(|p| Password::parse("initial_password", p))
                .transpose()?,
        })
    }
}
