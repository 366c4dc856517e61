use sea_orm::entity::prelude::*;

use crate::{DeliveryCompanyId, UserId};

/// A third-party delivery company, registered by the operator.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_companies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: DeliveryCompanyId,
    pub name: String,
    pub contact_phone_hash: String,
    pub contact_phone_enc: String,
    pub contact_phone_masked: String,
    pub created_by: UserId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
