use sea_orm::FromJsonQueryResult;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{LocationKind, MerchantId, UserId};

/// The categories a merchant sells in (衣, 食, 住, 行, 生活服务 …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Categories(pub Vec<String>);

/// A merchant's profile. The owner's identity and the contact phone are
/// personal data: encrypted, hashed, masked.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: MerchantId,
    pub shop_name: String,
    pub business_scope: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub categories: Categories,
    pub location_kind: LocationKind,
    pub address: String,
    pub contact_phone_hash: String,
    pub contact_phone_enc: String,
    pub contact_phone_masked: String,
    pub owner_name: String,
    pub owner_id_hash: String,
    pub owner_id_enc: String,
    pub owner_id_masked: String,
    pub created_by: UserId,
    /// The property's commission on settled orders, in basis points
    /// (100 = 1%; 0 = none).
    pub commission_bp: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
