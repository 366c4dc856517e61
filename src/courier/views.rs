//! What the courier endpoints take and answer: delivery companies and their
//! staff, couriers with their passes, and the checked values a registration,
//! a pass renewal or a status change becomes.

use chrono::{DateTime, Utc};
use entity::{
    CommunityId, CompanyStaffId, CourierId, CourierStatus, DeliveryCompanyId, EmployerKind, FileId,
    MerchantId, UserId, courier, delivery_company,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::wire_name;
use crate::kernel::{clock, text};
use crate::pii::{IdNumber, PhoneNumber};

// ---------------------------------------------------------------- companies

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCompany {
    pub id: DeliveryCompanyId,
    pub name: String,
    /// Masked.
    pub contact_phone: String,
    pub created_at: DateTime<Utc>,
}

impl From<delivery_company::Model> for DeliveryCompany {
    fn from(m: delivery_company::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            contact_phone: m.contact_phone_masked,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
    pub contact_phone: String,
}

/// A new delivery company's checked fields.
pub struct CompanyFields {
    pub name: String,
    pub contact_phone: PhoneNumber,
}

impl NewCompany {
    /// Checks the name, then the contact phone.
    pub fn parse(self) -> ApiResult<CompanyFields> {
        Ok(CompanyFields {
            name: text::required("name", &self.name, 100)?,
            contact_phone: phone("contact_phone", &self.contact_phone)?,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CompanyStaffMember {
    pub id: CompanyStaffId,
    pub user_id: UserId,
    pub display_name: String,
    /// Masked.
    pub phone: Option<String>,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompanyStaff {
    /// Finds the person by phone number, or creates their account.
    pub phone: String,
    pub display_name: String,
}

/// A new company account's checked fields.
pub struct CompanyStaffFields {
    pub phone: PhoneNumber,
    /// For a new account (an existing one keeps its name).
    pub display_name: String,
}

impl NewCompanyStaff {
    /// Checks the phone number, then the name.
    pub fn parse(self) -> ApiResult<CompanyStaffFields> {
        Ok(CompanyStaffFields {
            phone: phone("phone", &self.phone)?,
            display_name: text::required("display_name", &self.display_name, 64)?,
        })
    }
}

// ---------------------------------------------------------------- couriers

/// A courier, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Courier {
    pub id: CourierId,
    pub employer_kind: EmployerKind,
    pub merchant_id: Option<MerchantId>,
    pub company_id: Option<DeliveryCompanyId>,
    pub community_id: Option<CommunityId>,
    pub name: String,
    pub phone: String,
    pub id_number: String,
    /// Get a link with `GET /api/v1/files/{id}/link`.
    pub photo_file_id: Option<entity::FileId>,
    /// The pass (通行证) number guards check.
    pub pass_number: String,
    pub pass_valid_until: DateTime<Utc>,
    pub status: CourierStatus,
    pub status_reason: Option<String>,
    /// Active with a valid pass: may be let in now.
    pub may_pass: bool,
    pub created_at: DateTime<Utc>,
}

impl From<courier::Model> for Courier {
    fn from(m: courier::Model) -> Self {
        Self {
            may_pass: m.may_pass(clock::now()),
            id: m.id,
            employer_kind: m.employer_kind,
            merchant_id: m.merchant_id,
            company_id: m.company_id,
            community_id: m.community_id,
            name: m.name,
            phone: m.phone_masked,
            id_number: m.id_number_masked,
            photo_file_id: m.photo_file_id,
            pass_number: m.pass_number,
            pass_valid_until: m.pass_valid_until,
            status: m.status,
            status_reason: m.status_reason,
            created_at: m.created_at,
        }
    }
}

/// The columns of the couriers export, in order.
pub const CSV_HEADER: &[&str] = &[
    "id",
    "name",
    "phone",
    "employer_kind",
    "employer_id",
    "pass_number",
    "pass_valid_until",
    "status",
    "may_pass",
];

impl Courier {
    /// The courier as a row of the export ([`CSV_HEADER`]); the employer is
    /// the merchant, the company or the community, whichever there is.
    pub fn csv_row(self) -> Vec<String> {
        let employer = self
            .merchant_id
            .map(|m| m.to_string())
            .or(self.company_id.map(|m| m.to_string()))
            .or(self.community_id.map(|m| m.to_string()))
            .unwrap_or_default();
        vec![
            self.id.to_string(),
            self.name,
            self.phone,
            wire_name(&self.employer_kind),
            employer,
            self.pass_number,
            self.pass_valid_until.to_rfc3339(),
            wire_name(&self.status),
            self.may_pass.to_string(),
        ]
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCourier {
    pub name: String,
    pub phone: String,
    pub id_number: String,
    /// The pass's end (future, at most one year ahead).
    pub pass_valid_until: DateTime<Utc>,
    /// The courier's photo: an image you uploaded (`POST /api/v1/files`).
    pub photo_file_id: Option<entity::FileId>,
}

/// A courier's checked registration. The photo is the service's to check
/// (it must be an image the registering user uploaded).
pub struct CourierFields {
    pub name: String,
    pub phone: PhoneNumber,
    pub id_number: IdNumber,
    pub pass_valid_until: PassExpiry,
    pub photo_file_id: Option<FileId>,
}

impl NewCourier {
    /// Checks the name, phone, identity number and pass expiry, in that
    /// order (the first wrong field is the one named).
    pub fn parse(self) -> ApiResult<CourierFields> {
        Ok(CourierFields {
            name: text::required("name", &self.name, 64)?,
            phone: phone("phone", &self.phone)?,
            id_number: IdNumber::parse(&self.id_number)
                .map_err(|e| ApiError::invalid_field("id_number", e))?,
            pass_valid_until: PassExpiry::parse(self.pass_valid_until)?,
            photo_file_id: self.photo_file_id,
        })
    }
}

/// When a pass ends: in the future, at most one year ahead.
#[derive(Clone, Copy, Debug)]
pub struct PassExpiry(DateTime<Utc>);

impl PassExpiry {
    /// Refuses a past end and one more than a year (366 days) ahead.
    pub fn parse(value: DateTime<Utc>) -> ApiResult<Self> {
        let now = clock::now();
        if value <= now || value > now + chrono::Duration::days(366) {
            return Err(ApiError::invalid_field(
                "pass_valid_until",
                "must be in the future, at most one year ahead",
            ));
        }
        Ok(Self(value))
    }

    /// The checked end of the pass.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CourierFilter {
    pub employer_kind: Option<EmployerKind>,
    pub merchant_id: Option<MerchantId>,
    pub company_id: Option<DeliveryCompanyId>,
    pub status: Option<CourierStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourierStatusChange {
    pub status: CourierStatus,
    /// Required when suspending (at most 200 characters).
    pub reason: Option<String>,
}

/// A checked status change: suspended with a reason, or active again.
pub struct StatusChange {
    pub status: CourierStatus,
    pub reason: Option<String>,
}

impl CourierStatusChange {
    /// A suspension needs a reason (at most 200 characters); becoming
    /// active again drops any.
    pub fn parse(self) -> ApiResult<StatusChange> {
        let reason = match (self.status, self.reason.as_deref()) {
            (CourierStatus::Suspended, Some(r)) => Some(text::required("reason", r, 200)?),
            (CourierStatus::Suspended, None) => {
                return Err(ApiError::invalid_field(
                    "reason",
                    "say why the courier is suspended",
                ));
            }
            (CourierStatus::Active, _) => None,
        };
        Ok(StatusChange {
            status: self.status,
            reason,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PassRenewal {
    pub pass_valid_until: DateTime<Utc>,
}

impl PassRenewal {
    /// Checks the new end of the pass.
    pub fn parse(self) -> ApiResult<PassExpiry> {
        PassExpiry::parse(self.pass_valid_until)
    }
}

/// A mainland mobile number from request field `field`.
fn phone(field: &str, value: &str) -> ApiResult<PhoneNumber> {
    PhoneNumber::parse(value).map_err(|e| ApiError::invalid_field(field, e))
}
