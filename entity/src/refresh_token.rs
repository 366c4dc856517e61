use sea_orm::entity::prelude::*;

use crate::{RefreshTokenId, TokenFamilyId, UserId};

/// A refresh token, stored only as a SHA-256 hash. Each refresh rotates it:
/// the old row gets `rotated_at`, a new row joins the same family. Presenting
/// a rotated token again means it leaked, and revokes the whole family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RefreshTokenId,
    pub family_id: TokenFamilyId,
    pub user_id: UserId,
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub rotated_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
