use sea_orm::entity::prelude::*;

use crate::{UserId, WechatFollowerId};

/// Someone who follows (or followed) the service account, known by openid
/// whether or not they have signed in yet.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wechat_followers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: WechatFollowerId,
    pub app_id: String,
    pub openid: String,
    pub subscribed: bool,
    /// The QR scene of the first subscription (`inv:<user id>`, `pp:<pickup point id>`).
    pub scene: Option<String>,
    /// Who invited them, from an invitation scene (for points later).
    pub invited_by: Option<UserId>,
    pub first_subscribed_at: DateTimeUtc,
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
