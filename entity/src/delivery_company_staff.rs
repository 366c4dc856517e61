use sea_orm::entity::prelude::*;

use crate::{CompanyStaffId, DeliveryCompanyId, UserId};

/// A user on a delivery company's staff.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_company_staff")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CompanyStaffId,
    pub company_id: DeliveryCompanyId,
    pub user_id: UserId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
