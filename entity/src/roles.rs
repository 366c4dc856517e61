//! Enums stored as short strings (portable across SQLite and PostgreSQL).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A duty a user holds in one community's property staff.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// 物业经理: runs the community's settings and staff.
    #[sea_orm(string_value = "manager")]
    Manager,
    /// 楼管员: verifies residents and binds families.
    #[sea_orm(string_value = "building_manager")]
    BuildingManager,
    /// 门岗: logs couriers in and out.
    #[sea_orm(string_value = "gate_guard")]
    GateGuard,
    /// 财务: settlement, withdrawals, refunds.
    #[sea_orm(string_value = "finance")]
    Finance,
    /// 客服: disputes and moderation.
    #[sea_orm(string_value = "customer_service")]
    CustomerService,
}

impl StaffRole {
    pub const ALL: [StaffRole; 5] = [
        StaffRole::Manager,
        StaffRole::BuildingManager,
        StaffRole::GateGuard,
        StaffRole::Finance,
        StaffRole::CustomerService,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            StaffRole::Manager => "manager",
            StaffRole::BuildingManager => "building_manager",
            StaffRole::GateGuard => "gate_guard",
            StaffRole::Finance => "finance",
            StaffRole::CustomerService => "customer_service",
        }
    }
}

/// Whether a user may sign in at all.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

/// A person's standing in a household.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// 业主: on the property's register.
    #[sea_orm(string_value = "owner")]
    Owner,
    /// 家庭成员: bound by an owner or a building manager.
    #[sea_orm(string_value = "family")]
    Family,
    /// 租户: access lapses at the tenancy's end date.
    #[sea_orm(string_value = "tenant")]
    Tenant,
}

/// How a membership was verified.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum VerifiedVia {
    /// Name and verified phone matched the owner register.
    #[sea_orm(string_value = "owner_record")]
    OwnerRecord,
    /// A building manager approved the claim.
    #[sea_orm(string_value = "staff")]
    Staff,
    /// An owner's invitation was accepted.
    #[sea_orm(string_value = "invite")]
    Invite,
}

/// Where a claim stands. `Pending` is the only state that moves.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Waiting for a building manager.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Matched the owner register at once.
    #[sea_orm(string_value = "auto_verified")]
    AutoVerified,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "rejected")]
    Rejected,
}

/// Where a merchant works from.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A shop in or near the community.
    #[sea_orm(string_value = "shop")]
    Shop,
    /// A home-based online seller (在家从事电子商务).
    #[sea_orm(string_value = "home_based")]
    HomeBased,
}

/// A merchant's standing in one community.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum MerchantStatus {
    /// Waiting for the property's verification.
    #[sea_orm(string_value = "applied")]
    Applied,
    /// May sell here until `verified_until`.
    #[sea_orm(string_value = "verified")]
    Verified,
    #[sea_orm(string_value = "rejected")]
    Rejected,
    /// Stopped by the property; cannot sell.
    #[sea_orm(string_value = "suspended")]
    Suspended,
    /// Verification ran out; cannot sell until verified again.
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// A user's place on a merchant's staff.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum MerchantRole {
    /// Manages the profile and the staff.
    #[sea_orm(string_value = "owner")]
    Owner,
    #[sea_orm(string_value = "staff")]
    Staff,
}

/// Who employs a courier.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum EmployerKind {
    #[sea_orm(string_value = "merchant")]
    Merchant,
    /// A third-party delivery company.
    #[sea_orm(string_value = "company")]
    Company,
    /// The property's own courier, for one community.
    #[sea_orm(string_value = "property")]
    Property,
}

/// Whether a courier may pass the gates.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum CourierStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// Whose personal data a staff member looked at.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum PiiSubject {
    /// An owner on the property's register (`owner_records`).
    #[sea_orm(string_value = "owner_record")]
    OwnerRecord,
    /// A verified resident of the community (a user).
    #[sea_orm(string_value = "resident")]
    Resident,
    /// A merchant serving the community (its owner and contact).
    #[sea_orm(string_value = "merchant")]
    Merchant,
    /// A courier working in the community.
    #[sea_orm(string_value = "courier")]
    Courier,
}

/// Which personal value.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum PiiField {
    #[sea_orm(string_value = "phone")]
    Phone,
    #[sea_orm(string_value = "id_number")]
    IdNumber,
}

/// What a document attached to a merchant is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum DocumentRole {
    /// A photo of the shop or products: seen by the merchant's staff and the
    /// property's reviewers.
    #[sea_orm(string_value = "photo")]
    Photo,
    /// The lease contract (租赁合同): owners and reviewers only.
    #[sea_orm(string_value = "lease_contract")]
    LeaseContract,
    /// The owner's identity document: owners and reviewers only.
    #[sea_orm(string_value = "id_document")]
    IdDocument,
}

impl DocumentRole {
    /// Only the merchant's owners and the property's reviewers may see it.
    pub fn is_sensitive(self) -> bool {
        !matches!(self, DocumentRole::Photo)
    }
}

/// Where an outbox message stands.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    #[sea_orm(string_value = "pending")]
    Pending,
    /// Accepted by WeChat (or by the sandbox inbox).
    #[sea_orm(string_value = "sent")]
    Sent,
    /// Given up: a permanent refusal, or out of attempts.
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// Which WeChat API delivers an outbox message.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum OutboxChannel {
    /// Service-account template message (模板消息).
    #[sea_orm(string_value = "template")]
    Template,
    /// Mini-program subscribe message (订阅消息).
    #[sea_orm(string_value = "subscribe")]
    Subscribe,
    /// Service-account customer-service message (客服消息), e.g. a late reply.
    #[sea_orm(string_value = "custom")]
    Custom,
    /// A refund request to WeChat Pay (`/v3/refund/domestic/refunds`): money
    /// going back must not be lost either.
    #[sea_orm(string_value = "pay_refund")]
    PayRefund,
    /// A payout to a merchant by WeChat Pay's merchant transfer
    /// (`/v3/fund-app/mch-transfer/transfer-bills`).
    #[sea_orm(string_value = "pay_transfer")]
    PayTransfer,
}

/// What a catalog item is.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum ProductKind {
    /// Goods with a stock count.
    #[sea_orm(string_value = "goods")]
    Goods,
    /// A service (家政, 维修…): no stock, never sold out.
    #[sea_orm(string_value = "service")]
    Service,
}
