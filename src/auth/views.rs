//! What the sign-in endpoints take and answer, and the development login's
//! request checked into [`DevLogin`] before anything is written.

use entity::{CommunityId, HouseholdId, MemberRole, StaffRole, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::text;
use crate::pii::PhoneNumber;

/// What a successful login or refresh returns.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    pub user_id: UserId,
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single use: exchange it at `/api/v1/auth/refresh` for a new pair.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Mainland mobile number, e.g. `13812341234`.
    pub phone: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevLoginRequest {
    /// Signs in as the user with this phone number, creating them if needed.
    /// Without it, a new user is created on every call.
    pub phone: Option<String>,
    /// Name for a new user (default `开发者`).
    pub display_name: Option<String>,
    /// Make the user an operator admin.
    #[serde(default)]
    pub operator_admin: bool,
    /// Grant these staff roles.
    #[serde(default)]
    pub staff_roles: Vec<DevRoleGrant>,
    /// Make the user a verified member of these households.
    #[serde(default)]
    pub households: Vec<DevMembership>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevMembership {
    pub household_id: HouseholdId,
    pub role: MemberRole,
    /// For tenants.
    pub tenant_until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevRoleGrant {
    pub community_id: CommunityId,
    pub role: StaffRole,
}

/// A development login with its phone number and name checked.
#[derive(Debug)]
pub struct DevLogin {
    pub phone: Option<PhoneNumber>,
    pub display_name: String,
    pub operator_admin: bool,
    pub staff_roles: Vec<DevRoleGrant>,
    pub households: Vec<DevMembership>,
}

impl DevLoginRequest {
    /// Checks the phone number (when given) and the name for a new user.
    pub fn parse(self) -> ApiResult<DevLogin> {
        let phone = self
            .phone
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| ApiError::invalid_field("phone", e))?;
        let display_name = text::required(
            "display_name",
            self.display_name.as_deref().unwrap_or("开发者"),
            64,
        )?;
        Ok(DevLogin {
            phone,
            display_name,
            operator_admin: self.operator_admin,
            staff_roles: self.staff_roles,
            households: self.households,
        })
    }
}
