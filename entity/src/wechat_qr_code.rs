use sea_orm::entity::prelude::*;

use crate::{CommunityId, QrCodeId, UserId};

/// A parametric QR code: scanning it follows the service account and sends
/// anjia the scene (an invitation, a pickup point).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wechat_qr_codes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: QrCodeId,
    pub scene: String,
    /// Permanent codes never expire (pickup points); temporary ones do (invitations).
    pub permanent: bool,
    pub community_id: Option<CommunityId>,
    pub created_by: UserId,
    #[sea_orm(column_type = "Text")]
    pub ticket: String,
    /// What the QR code encodes.
    #[sea_orm(column_type = "Text")]
    pub url: String,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
