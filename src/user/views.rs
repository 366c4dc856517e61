//! What the signed-in user's routes take and answer.

use chrono::{DateTime, Utc};
use entity::{CommunityId, StaffRole, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::service::PasswordChange;
use crate::auth::password::Password;
use crate::auth::principal::Principal;
use crate::kernel::error::ApiResult;

/// The signed-in user, as they see themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: UserId,
    pub display_name: String,
    /// Masked: `138****1234`.
    pub phone: Option<String>,
    pub is_operator_admin: bool,
    pub staff_roles: Vec<MyStaffRole>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStaffRole {
    pub community_id: CommunityId,
    pub community_name: String,
    pub role: StaffRole,
}

impl From<&Principal> for Me {
    fn from(caller: &Principal) -> Self {
        let user = &caller.user;
        Self {
            id: user.id,
            display_name: user.display_name.clone(),
            phone: user.phone_masked.clone(),
            is_operator_admin: caller.is_operator_admin,
            staff_roles: caller
                .staff_roles
                .iter()
                .map(|r| MyStaffRole {
                    community_id: r.community_id,
                    community_name: r.community_name.clone(),
                    role: r.role,
                })
                .collect(),
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 8 to 128 characters.
    pub new_password: String,
}

impl ChangePassword {
    pub fn parse(self) -> ApiResult<PasswordChange> {
        Ok(PasswordChange {
            new: Password::parse("new_password", self.new_password)?,
            current: self.current_password,
        })
    }
}
