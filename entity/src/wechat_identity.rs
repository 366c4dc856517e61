use sea_orm::entity::prelude::*;

use crate::{UserId, WechatIdentityId};

/// An openid in one WeChat app (the service account or the mini-program)
/// that belongs to a user. One person may have one per app; the unionid,
/// when WeChat gives one, is the same across the company's apps.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wechat_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WechatIdentityId,
    pub user_id: UserId,
    pub app_id: String,
    pub openid: String,
    pub unionid: Option<String>,
    /// The mini-program session key, encrypted (AES-256-GCM).
    pub session_key_enc: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
