use sea_orm::entity::prelude::*;

use crate::{UserId, UserStatus};

/// One person. Staff, residents, merchants and couriers are all users; what
/// they may do comes from the roles and records attached to them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: UserId,
    pub display_name: String,
    /// Keyed hash (HMAC-SHA256) of the normalised phone number, for lookup.
    pub phone_hash: Option<String>,
    /// The phone number, encrypted (AES-256-GCM).
    pub phone_enc: Option<String>,
    /// The masked phone number shown in responses (`138****1234`).
    pub phone_masked: Option<String>,
    /// Argon2id PHC string; `None` for users who only sign in through WeChat.
    pub password_hash: Option<String>,
    pub status: UserStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::operator_admin::Entity")]
    OperatorAdmin,
}

impl Related<super::operator_admin::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OperatorAdmin.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
