//! Id newtypes. Each table's key has its own type, so a `UserId` can never be
//! passed where a `CommunityId` is expected. Ids are UUIDv7: generated in
//! Rust, unique across instances, and ordered by creation time (which makes
//! them a stable cursor for pagination).

use std::fmt;
use std::str::FromStr;

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            Serialize, Deserialize, DeriveValueType, utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

id_type!(
    /// A community (小区): the tenant boundary.
    CommunityId
);
id_type!(
    /// A person. WeChat identities and phone numbers attach to a user.
    UserId
);
id_type!(
    /// One staff role granted to one user in one community.
    StaffRoleId
);
id_type!(
    /// One refresh token (a link in a rotation family).
    RefreshTokenId
);
id_type!(
    /// A refresh-token family: every token rotated from one login.
    TokenFamilyId
);
id_type!(
    /// A building (楼栋) in a community.
    BuildingId
);
id_type!(
    /// A unit (单元, a stairwell) of a building.
    UnitId
);
id_type!(
    /// A household (户): one dwelling, the unit that shares privileges.
    HouseholdId
);
id_type!(
    /// A gate (门岗) where couriers are logged in and out.
    GateId
);
id_type!(
    /// A pickup point (自提点).
    PickupPointId
);
id_type!(
    /// One owner in the property's own register.
    OwnerRecordId
);
id_type!(
    /// A user's membership of a household.
    HouseholdMemberId
);
id_type!(
    /// A claim to belong to a household, awaiting verification.
    ClaimId
);
id_type!(
    /// An owner's invitation of a family member.
    InviteId
);
id_type!(
    /// A merchant (商家): a shop or a home-based seller.
    MerchantId
);
id_type!(
    /// A merchant's standing in one community.
    MerchantApprovalId
);
id_type!(
    /// A user's place on a merchant's staff.
    MerchantStaffId
);
id_type!(
    /// One verification visit (扫街) to a merchant.
    MerchantVisitId
);
id_type!(
    /// A third-party delivery company.
    DeliveryCompanyId
);
id_type!(
    /// A courier (配送员).
    CourierId
);
id_type!(
    /// One logged access to a full personal value.
    PiiAccessId
);
id_type!(
    /// An uploaded file.
    FileId
);
id_type!(
    /// A document attached to a merchant.
    MerchantDocumentId
);
id_type!(
    /// A photo taken on a verification visit.
    VisitPhotoId
);
id_type!(
    /// A user on a delivery company's staff.
    CompanyStaffId
);
id_type!(
    /// A WeChat identity (an openid in one app) attached to a user.
    WechatIdentityId
);
id_type!(
    /// A service-account follower record.
    WechatFollowerId
);
id_type!(
    /// One outbound WeChat message in the outbox.
    OutboxMessageId
);
id_type!(
    /// A message the sandbox delivered instead of WeChat.
    SandboxMessageId
);
id_type!(
    /// A parametric QR code.
    QrCodeId
);
id_type!(
    /// A catalog category (衣, 食, 住, 行, 生活服务 and their children).
    CategoryId
);
id_type!(
    /// A merchant's product or service.
    ProductId
);
id_type!(
    /// A group buy (团购).
    GroupBuyId
);
id_type!(
    /// One item on offer in a group buy.
    GroupBuyItemId
);
id_type!(
    /// An order (from a group buy or the catalog).
    OrderId
);
id_type!(
    /// One line of an order.
    OrderLineId
);
id_type!(
    /// One entry of an order's event log.
    OrderEventId
);
id_type!(
    /// A refund recorded through the payment port.
    RefundId
);
id_type!(
    /// A merchant's request to be paid out.
    WithdrawalId
);
id_type!(
    /// An account of the escrow ledger.
    LedgerAccountId
);
id_type!(
    /// A journal entry of the ledger (lines summing to zero).
    JournalEntryId
);
id_type!(
    /// One line of a journal entry.
    JournalLineId
);
id_type!(
    /// A bookable time slot at a pickup point.
    PickupSlotId
);
id_type!(
    /// A pickup code (the resident's own or a collector's).
    PickupCodeId
);
id_type!(
    /// A note on a pickup point's message board.
    PickupNoteId
);
id_type!(
    /// A resident's dispute of an order.
    DisputeId
);
id_type!(
    /// One step of a dispute's history.
    DisputeEventId
);
id_type!(
    /// A photo attached to a step of a dispute.
    DisputePhotoId
);
id_type!(
    /// A property-fee bill (物业费账单) of one household for one period.
    FeeBillId
);
id_type!(
    /// One payment towards a fee bill (its receipt).
    FeePaymentId
);
