//! What the merchant routes read and answer, and the requests parsed into
//! checked values (a profile with its personal data sealed, a visit, a
//! verification, a reason) before the service touches the database.

use chrono::{DateTime, Utc};
use entity::merchant::Categories;
use entity::{
    CommunityId, FileId, LocationKind, MerchantId, MerchantRole, MerchantStaffId, MerchantStatus,
    MerchantVisitId, UserId, merchant, merchant_approval, merchant_visit,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::{clock, text};
use crate::pii::{PhoneNumber, PiiCipher, Sealed, seal_id_number, seal_phone};

// ---------------------------------------------------------------- answers

/// A merchant's standing in one community.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approval {
    pub community_id: CommunityId,
    /// As of now: a verification past its date reads `expired`.
    pub status: MerchantStatus,
    pub verified_until: Option<DateTime<Utc>>,
    /// Why it was rejected or suspended.
    pub reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl From<merchant_approval::Model> for Approval {
    fn from(a: merchant_approval::Model) -> Self {
        Self {
            status: a.effective_status(clock::now()),
            community_id: a.community_id,
            verified_until: a.verified_until,
            reason: a.reason,
            decided_at: a.decided_at,
        }
    }
}

/// A merchant's profile, personal data masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Merchant {
    pub id: MerchantId,
    pub shop_name: String,
    pub business_scope: String,
    pub categories: Vec<String>,
    pub location_kind: LocationKind,
    pub address: String,
    /// Masked: `138****1234`.
    pub contact_phone: String,
    pub owner_name: String,
    /// Masked: `350***********123X`.
    pub owner_id_number: String,
    pub communities: Vec<Approval>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Merchant {
    /// The profile of `m` with its standing in each of `approvals`' communities.
    pub fn new(m: merchant::Model, approvals: Vec<merchant_approval::Model>) -> Self {
        Self {
            id: m.id,
            shop_name: m.shop_name,
            business_scope: m.business_scope,
            categories: m.categories.0,
            location_kind: m.location_kind,
            address: m.address,
            contact_phone: m.contact_phone_masked,
            owner_name: m.owner_name,
            owner_id_number: m.owner_id_masked,
            communities: approvals.into_iter().map(Approval::from).collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MerchantStaffMember {
    pub id: MerchantStaffId,
    pub user_id: UserId,
    pub display_name: String,
    pub phone: Option<String>,
    pub role: MerchantRole,
    pub since: DateTime<Utc>,
}

/// A merchant as one community's staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityMerchant {
    pub merchant: Merchant,
    /// The standing in this community.
    pub approval: Approval,
}

impl CommunityMerchant {
    /// The columns of the CSV export, in [`CommunityMerchant::csv_row`]'s order.
    pub const CSV_HEADER: [&'static str; 10] = [
        "id",
        "shop_name",
        "location_kind",
        "categories",
        "address",
        "contact_phone",
        "owner_name",
        "status",
        "verified_until",
        "reason",
    ];

    /// One line of the CSV export.
    pub fn csv_row(self) -> Vec<String> {
        let m = self.merchant;
        vec![
            m.id.to_string(),
            m.shop_name,
            crate::kernel::http::wire_name(&m.location_kind),
            m.categories.join("/"),
            m.address,
            m.contact_phone,
            m.owner_name,
            crate::kernel::http::wire_name(&self.approval.status),
            self.approval
                .verified_until
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            self.approval.reason.unwrap_or_default(),
        ]
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MerchantFilter {
    /// As of now (a verification past its date is `expired`).
    pub status: Option<MerchantStatus>,
    /// Verified merchants whose verification ends within this many days.
    pub expiring_within_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Visit {
    pub id: MerchantVisitId,
    pub visited_by: UserId,
    pub visited_at: DateTime<Utc>,
    pub notes: String,
    /// Photos taken on the visit (links from `/api/v1/files/{id}/link`).
    pub photo_file_ids: Vec<FileId>,
}

impl Visit {
    pub fn new(v: merchant_visit::Model, photos: Vec<FileId>) -> Self {
        Self {
            id: v.id,
            visited_by: v.visited_by,
            visited_at: v.visited_at,
            notes: v.notes,
            photo_file_ids: photos,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunityMerchantDetail {
    pub merchant: Merchant,
    pub approval: Approval,
    /// This community's verification visits, newest first.
    pub visits: Vec<Visit>,
}

// ---------------------------------------------------------------- the merchant's requests

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchant {
    pub shop_name: String,
    /// What the merchant sells or does (经营范围).
    pub business_scope: String,
    /// E.g. `["食", "生活服务"]`.
    pub categories: Vec<String>,
    pub location_kind: LocationKind,
    /// The shop's address, or the home seller's household address.
    pub address: String,
    pub contact_phone: String,
    /// The owner's legal name and resident ID number (verified by the property).
    pub owner_name: String,
    pub owner_id_number: String,
    /// The communities to serve: each one's staff verify the merchant there.
    pub community_ids: Vec<CommunityId>,
}

/// A new merchant's details, checked, its personal data sealed.
pub struct MerchantProfile {
    pub shop_name: String,
    pub business_scope: String,
    pub categories: Categories,
    pub location_kind: LocationKind,
    pub address: String,
    pub owner_name: String,
    pub contact_phone: Sealed,
    pub owner_id: Sealed,
    /// At least one (not yet known to exist).
    pub community_ids: Vec<CommunityId>,
}

impl NewMerchant {
    pub fn parse(self, pii: &PiiCipher) -> ApiResult<MerchantProfile> {
        let shop_name = text::required("shop_name", &self.shop_name, 100)?;
        let business_scope = text::required("business_scope", &self.business_scope, 500)?;
        let categories = parse_categories(self.categories)?;
        let address = text::required("address", &self.address, 200)?;
        let owner_name = text::required("owner_name", &self.owner_name, 64)?;
        let contact_phone = seal_phone(pii, "contact_phone", &self.contact_phone)?;
        let owner_id = seal_id_number(pii, "owner_id_number", &self.owner_id_number)?;
        if self.community_ids.is_empty() {
            return Err(ApiError::invalid_field(
                "community_ids",
                "name at least one community",
            ));
        }
        Ok(MerchantProfile {
            shop_name,
            business_scope,
            categories,
            location_kind: self.location_kind,
            address,
            owner_name,
            contact_phone,
            owner_id,
            community_ids: self.community_ids,
        })
    }
}

/// 1 to 10 categories, each at most 20 characters, each kept once.
pub fn parse_categories(values: Vec<String>) -> ApiResult<Categories> {
    if values.is_empty() || values.len() > 10 {
        return Err(ApiError::invalid_field(
            "categories",
            "give 1 to 10 categories",
        ));
    }
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        let c = text::required("categories", &v, 20)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(Categories(out))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantChanges {
    pub shop_name: Option<String>,
    pub business_scope: Option<String>,
    pub categories: Option<Vec<String>>,
    pub location_kind: Option<LocationKind>,
    pub address: Option<String>,
    /// Contact details change without a new review.
    pub contact_phone: Option<String>,
    pub owner_name: Option<String>,
    pub owner_id_number: Option<String>,
}

/// Changes to a merchant's profile, checked, personal data sealed.
pub struct MerchantEdit {
    pub shop_name: Option<String>,
    pub business_scope: Option<String>,
    pub categories: Option<Categories>,
    pub location_kind: Option<LocationKind>,
    pub address: Option<String>,
    pub owner_name: Option<String>,
    pub owner_id: Option<Sealed>,
    pub contact_phone: Option<Sealed>,
}

impl MerchantChanges {
    pub fn parse(self, pii: &PiiCipher) -> ApiResult<MerchantEdit> {
        let text = |field: &str, v: Option<String>, max: usize| {
            v.map(|v| text::required(field, &v, max)).transpose()
        };
        Ok(MerchantEdit {
            shop_name: text("shop_name", self.shop_name, 100)?,
            business_scope: text("business_scope", self.business_scope, 500)?,
            categories: self.categories.map(parse_categories).transpose()?,
            location_kind: self.location_kind,
            address: text("address", self.address, 200)?,
            owner_name: text("owner_name", self.owner_name, 64)?,
            owner_id: self
                .owner_id_number
                .map(|v| seal_id_number(pii, "owner_id_number", &v))
                .transpose()?,
            contact_phone: self
                .contact_phone
                .map(|v| seal_phone(pii, "contact_phone", &v))
                .transpose()?,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    pub community_id: CommunityId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMerchantStaff {
    /// Finds the person by phone number, or creates their account (they sign
    /// in through WeChat).
    pub phone: String,
    pub display_name: String,
}

/// A staff account to add, checked.
#[derive(Debug)]
pub struct StaffInvite {
    pub phone: PhoneNumber,
    pub display_name: String,
}

impl NewMerchantStaff {
    pub fn parse(self) -> ApiResult<StaffInvite> {
        let phone =
            PhoneNumber::parse(&self.phone).map_err(|e| ApiError::invalid_field("phone", e))?;
        let display_name = text::required("display_name", &self.display_name, 64)?;
        Ok(StaffInvite {
            phone,
            display_name,
        })
    }
}

// ---------------------------------------------------------------- the property's requests

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVisit {
    /// What was found (at most 1000 characters).
    pub notes: String,
    /// Default: now.
    pub visited_at: Option<DateTime<Utc>>,
    /// Photos taken on the visit: images you uploaded.
    #[serde(default)]
    pub photo_file_ids: Vec<FileId>,
}

/// A visit to record, checked: notes, a time within the past year, at
/// most 9 photos (not yet known to be the visitor's images).
#[derive(Debug)]
pub struct VisitRecord {
    pub notes: String,
    pub visited_at: DateTime<Utc>,
    pub photo_file_ids: Vec<FileId>,
}

impl NewVisit {
    pub fn parse(self, now: DateTime<Utc>) -> ApiResult<VisitRecord> {
        let notes = text::required("notes", &self.notes, 1000)?;
        let visited_at = self.visited_at.unwrap_or(now);
        if visited_at > now + chrono::Duration::minutes(5)
            || visited_at < now - chrono::Duration::days(366)
        {
            return Err(ApiError::invalid_field(
                "visited_at",
                "must be within the past year, not in the future",
            ));
        }
        if self.photo_file_ids.len() > 9 {
            return Err(ApiError::invalid_field(
                "photo_file_ids",
                "at most 9 photos a visit",
            ));
        }
        Ok(VisitRecord {
            notes,
            visited_at,
            photo_file_ids: self.photo_file_ids,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MerchantVerification {
    /// Until when the merchant may sell here (future, at most 3 years).
    pub valid_until: DateTime<Utc>,
    /// The merchant's `updated_at` as the reviewer saw it. When given, the
    /// verification is refused (`409 merchant_changed`) if the merchant has
    /// changed its details since: reload and review again. Back offices
    /// should always send it.
    pub reviewed_updated_at: Option<DateTime<Utc>>,
}

/// A verification, checked: until a date in the next three years.
#[derive(Debug)]
pub struct Verification {
    pub until: DateTime<Utc>,
    pub reviewed_updated_at: Option<DateTime<Utc>>,
}

impl MerchantVerification {
    pub fn parse(self, now: DateTime<Utc>) -> ApiResult<Verification> {
        let until = self.valid_until;
        if until <= now || until > now + chrono::Duration::days(3 * 366) {
            return Err(ApiError::invalid_field(
                "valid_until",
                "must be in the future, at most 3 years ahead",
            ));
        }
        Ok(Verification {
            until,
            reviewed_updated_at: self.reviewed_updated_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Shown to the merchant (at most 200 characters).
    pub reason: String,
}

impl Reason {
    /// The reason, trimmed and at most 200 characters.
    pub fn parse(&self) -> ApiResult<String> {
        text::required("reason", &self.reason, 200)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::{MerchantVerification, NewVisit, parse_categories};
    use crate::kernel::error::ApiError;

    fn field(e: ApiError) -> String {
        e.details.unwrap()["field"].as_str().unwrap().to_owned()
    }

    #[test]
    fn categories_are_one_to_ten_each_kept_once() {
        let cats = |v: &[&str]| parse_categories(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            cats(&["食", " 食 ", "生活服务"]).unwrap().0,
            ["食", "生活服务"]
        );
        for bad in [
            vec![],
            vec!["x"; 11],
            vec![" "],
            vec!["长长长长长长长长长长长长长长长长长长长长长"],
        ] {
            assert_eq!(cats(&bad).map_err(field).unwrap_err(), "categories");
        }
    }

    #[test]
    fn a_visit_is_within_the_past_year_with_at_most_nine_photos() {
        let now = Utc::now();
        let visit = |notes: &str, at: Option<Duration>, photos: usize| {
            NewVisit {
                notes: notes.into(),
                visited_at: at.map(|d| now + d),
                photo_file_ids: (0..photos).map(|_| entity::FileId::new()).collect(),
            }
            .parse(now)
            .map_err(field)
        };
        let ok = visit(" shop is clean ", None, 9).unwrap();
        assert_eq!((ok.notes.as_str(), ok.visited_at), ("shop is clean", now));
        assert!(visit("n", Some(Duration::minutes(4)), 0).is_ok());
        assert_eq!(visit(" ", None, 0).unwrap_err(), "notes");
        assert_eq!(
            visit("n", Some(Duration::minutes(6)), 0).unwrap_err(),
            "visited_at"
        );
        assert_eq!(
            visit("n", Some(-Duration::days(367)), 0).unwrap_err(),
            "visited_at"
        );
        assert_eq!(visit("n", None, 10).unwrap_err(), "photo_file_ids");
    }

    #[test]
    fn a_verification_runs_to_a_date_in_the_next_three_years() {
        let now = Utc::now();
        let until = |d: Duration| {
            MerchantVerification {
                valid_until: now + d,
                reviewed_updated_at: None,
            }
            .parse(now)
            .map(|v| v.until)
            .map_err(field)
        };
        assert!(until(Duration::days(365)).is_ok());
        assert!(until(Duration::days(3 * 366)).is_ok());
        for bad in [
            Duration::zero(),
            -Duration::days(1),
            Duration::days(3 * 366 + 1),
        ] {
            assert_eq!(until(bad).unwrap_err(), "valid_until");
        }
    }
}
