//! What the resident routes take and answer, and the checks that turn a
//! request into the service's checked values.

use chrono::{DateTime, Utc};
use entity::{
    BuildingId, ClaimId, ClaimStatus, CommunityId, HouseholdId, HouseholdMemberId, MemberRole,
    UserId, VerifiedVia, community, household_member, user,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::service::claims::{ApprovalTerms, ClaimDetails, ClaimRequest};
use super::service::lists::{ResidentDetails, ResidentSearch};
use super::service::{HouseholdOfMine, parse_tenant_until};
use crate::kernel::clock;
use crate::kernel::error::ApiResult;
use crate::kernel::http::wire_name;
use crate::kernel::text;

// ---------------------------------------------------------------- directory

#[derive(Debug, Serialize, ToSchema)]
pub struct DirectoryEntry {
    pub id: CommunityId,
    pub name: String,
    pub address: String,
}

impl From<community::Model> for DirectoryEntry {
    fn from(c: community::Model) -> Self {
        Self {
            id: c.id,
            name: c.name,
            address: c.address,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DirectoryQuery {
    /// Part of the community's name.
    pub q: Option<String>,
}

// ---------------------------------------------------------------- claims

#[derive(Debug, Serialize, ToSchema)]
pub struct Claim {
    pub id: ClaimId,
    pub household_id: HouseholdId,
    /// `1号楼 1单元 101`
    pub address: String,
    pub claimant_id: UserId,
    pub claimant_name: String,
    /// The claimant's phone, masked.
    pub claimant_phone: Option<String>,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub status: ClaimStatus,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<ClaimDetails> for Claim {
    fn from(d: ClaimDetails) -> Self {
        let c = d.claim;
        Self {
            id: c.id,
            household_id: c.household_id,
            address: d.address,
            claimant_id: c.user_id,
            claimant_name: c.claimant_name,
            claimant_phone: d.claimant_phone,
            role: c.role,
            tenant_until: c.tenant_until,
            note: c.note,
            status: c.status,
            reason: c.reason,
            decided_at: c.decided_at,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClaimBody {
    /// The building's name as the property writes it, e.g. `1号楼`.
    pub building: String,
    /// The unit, e.g. `1单元` (omit for buildings without units).
    pub unit: Option<String>,
    /// The room, e.g. `1202`.
    pub room: String,
    /// Your name: an owner's must match the property's register.
    pub name: String,
    pub role: MemberRole,
    /// For tenants: when the tenancy ends.
    pub tenant_until: Option<DateTime<Utc>>,
    /// For the building manager (at most 200 characters).
    pub note: Option<String>,
}

impl NewClaimBody {
    pub fn parse(self) -> ApiResult<ClaimRequest> {
        Ok(ClaimRequest {
            name: text::required("name", &self.name, 64)?,
            note: self
                .note
                .as_deref()
                .map(|n| text::required("note", n, 200))
                .transpose()?,
            tenant_until: parse_tenant_until(self.role, self.tenant_until)?,
            building: self.building,
            unit: self.unit,
            room: self.room,
            role: self.role,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClaimFilter {
    /// Default: `pending`.
    pub status: Option<ClaimStatus>,
}

impl ClaimFilter {
    pub fn status(&self) -> ClaimStatus {
        self.status.unwrap_or(ClaimStatus::Pending)
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimApproval {
    /// The role to grant, if not the one claimed.
    pub role: Option<MemberRole>,
    /// For tenants: when the tenancy ends (default: the one claimed).
    pub tenant_until: Option<DateTime<Utc>>,
}

impl From<ClaimApproval> for ApprovalTerms {
    fn from(a: ClaimApproval) -> Self {
        Self {
            role: a.role,
            tenant_until: a.tenant_until,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    /// Shown to the claimant (at most 200 characters).
    pub reason: String,
}

impl Rejection {
    /// The checked reason.
    pub fn parse(self) -> ApiResult<String> {
        text::required("reason", &self.reason, 200)
    }
}

/// The claims as CSV rows, under [`CLAIM_COLUMNS`].
pub fn claim_rows(claims: Vec<(entity::household_claim::Model, String)>) -> Vec<Vec<String>> {
    claims
        .into_iter()
        .map(|(c, address)| {
            vec![
                c.created_at.to_rfc3339(),
                address,
                c.claimant_name,
                wire_name(&c.role),
                wire_name(&c.status),
                c.note.unwrap_or_default(),
                c.reason.unwrap_or_default(),
            ]
        })
        .collect()
}

pub const CLAIM_COLUMNS: &[&str] = &[
    "filed_at", "address", "claimant", "role", "status", "note", "reason",
];

// ---------------------------------------------------------------- memberships

#[derive(Debug, Serialize, ToSchema)]
pub struct Membership {
    pub id: HouseholdMemberId,
    pub community_id: CommunityId,
    pub household_id: HouseholdId,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    /// False once a tenancy has ended.
    pub active: bool,
}

impl From<household_member::Model> for Membership {
    fn from(m: household_member::Model) -> Self {
        Self {
            active: m.is_active(clock::now()),
            id: m.id,
            community_id: m.community_id,
            household_id: m.household_id,
            role: m.role,
            tenant_until: m.tenant_until,
            verified_via: m.verified_via,
            since: m.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHousehold {
    #[serde(flatten)]
    pub membership: Membership,
    pub community_name: String,
    pub address: String,
}

impl From<HouseholdOfMine> for MyHousehold {
    fn from(h: HouseholdOfMine) -> Self {
        Self {
            community_name: h.community_name,
            address: h.address,
            membership: h.membership.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHouseholds {
    pub households: Vec<MyHousehold>,
    /// My claims, newest first.
    pub claims: Vec<Claim>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Member {
    pub id: HouseholdMemberId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    pub active: bool,
}

impl Member {
    /// A household's members as they stand now.
    pub fn list(rows: Vec<(household_member::Model, user::Model)>) -> Vec<Self> {
        let now = clock::now();
        rows.into_iter()
            .map(|(m, u)| Self {
                active: m.is_active(now),
                id: m.id,
                user_id: u.id,
                display_name: u.display_name,
                phone: u.phone_masked,
                role: m.role,
                tenant_until: m.tenant_until,
                verified_via: m.verified_via,
                since: m.created_at,
            })
            .collect()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Invite {
    /// Give it to the family member (as a link or QR code); shown only once.
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvite {
    pub code: String,
}

// ---------------------------------------------------------------- back office

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResidentFilter {
    pub building_id: Option<BuildingId>,
    pub role: Option<MemberRole>,
}

impl ResidentFilter {
    pub fn search(&self) -> ResidentSearch {
        ResidentSearch {
            building: self.building_id,
            role: self.role,
        }
    }
}

/// A verified resident, as the back office lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resident {
    pub member_id: HouseholdMemberId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub household_id: HouseholdId,
    pub address: String,
    pub role: MemberRole,
    pub tenant_until: Option<DateTime<Utc>>,
    pub verified_via: VerifiedVia,
    pub since: DateTime<Utc>,
    /// False once a tenancy has ended.
    pub active: bool,
}

impl Resident {
    /// Verified residents as they stand now.
    pub fn list(found: Vec<ResidentDetails>) -> Vec<Self> {
        let now = clock::now();
        found
            .into_iter()
            .map(|d| {
                let (m, u) = (d.member, d.user);
                Self {
                    active: m.is_active(now),
                    member_id: m.id,
                    user_id: u.id,
                    display_name: u.display_name,
                    phone: u.phone_masked,
                    household_id: m.household_id,
                    address: d.address,
                    role: m.role,
                    tenant_until: m.tenant_until,
                    verified_via: m.verified_via,
                    since: m.created_at,
                }
            })
            .collect()
    }
}

/// The residents as CSV rows, under [`RESIDENT_COLUMNS`].
pub fn resident_rows(residents: Vec<Resident>) -> Vec<Vec<String>> {
    residents
        .into_iter()
        .map(|r| {
            vec![
                r.address,
                r.display_name,
                r.phone.unwrap_or_default(),
                wire_name(&r.role),
                r.tenant_until.map(|t| t.to_rfc3339()).unwrap_or_default(),
                r.since.to_rfc3339(),
                r.active.to_string(),
            ]
        })
        .collect()
}

pub const RESIDENT_COLUMNS: &[&str] = &[
    "address",
    "name",
    "phone",
    "role",
    "tenant_until",
    "since",
    "active",
];
