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
