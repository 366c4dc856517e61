//! What the group-buy routes read and answer, and the organiser's requests
//! parsed into checked values: a [`Plan`] (a group buy's details, every
//! invariant held) and an [`OrganiserMove`].

use chrono::{DateTime, Utc};
use entity::{
    CommunityId, Fen, GroupBuyId, GroupBuyItemId, GroupBuyStatus, HouseholdId, MerchantId,
    OrganiserKind, PickupPointId, ProductId, group_buy, group_buy_item,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::kernel::error::{ApiError, ApiResult};
use crate::orders::views::Receiving;

mod plan;

pub use plan::{Known, OrganiserMove, Plan, ProductDefaults};

// ---------------------------------------------------------------- answers

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuyItem {
    pub id: GroupBuyItemId,
    pub product_id: Option<ProductId>,
    pub title: String,
    pub unit: String,
    /// Fen: the group price.
    pub price: Fen,
    /// Fen: the usual price, struck through.
    pub original_price: Option<Fen>,
    /// Units left.
    pub stock: i64,
    pub initial_stock: i64,
    pub per_household_limit: Option<i32>,
    pub sort_order: i32,
}

impl From<group_buy_item::Model> for GroupBuyItem {
    fn from(i: group_buy_item::Model) -> Self {
        Self {
            id: i.id,
            product_id: i.product_id,
            title: i.title,
            unit: i.unit,
            price: i.price,
            original_price: i.original_price,
            stock: i.stock,
            initial_stock: i.initial_stock,
            per_household_limit: i.per_household_limit,
            sort_order: i.sort_order,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuy {
    pub id: GroupBuyId,
    pub community_id: CommunityId,
    /// The organising merchant; absent when the property organises it.
    pub merchant_id: Option<MerchantId>,
    pub organiser_kind: OrganiserKind,
    pub title: String,
    pub description: String,
    /// 成团人数: distinct paying households needed.
    pub min_households: i32,
    /// Distinct households that have paid so far.
    pub households_joined: i64,
    pub starts_at: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub pickup_starts_at: Option<DateTime<Utc>>,
    pub pickup_ends_at: Option<DateTime<Utc>>,
    pub door_delivery: bool,
    pub status: GroupBuyStatus,
    pub status_reason: Option<String>,
    pub succeeded_at: Option<DateTime<Utc>>,
    pub pickup_point_ids: Vec<PickupPointId>,
    pub items: Vec<GroupBuyItem>,
    pub created_at: DateTime<Utc>,
}

impl GroupBuy {
    /// The answer for `g`, with its items, its pickup points and the
    /// households that have paid (read by the service).
    pub fn new(
        g: group_buy::Model,
        items: Vec<group_buy_item::Model>,
        pickup_point_ids: Vec<PickupPointId>,
        households_joined: i64,
    ) -> Self {
        Self {
            households_joined,
            id: g.id,
            community_id: g.community_id,
            merchant_id: g.merchant_id,
            organiser_kind: g.organiser_kind,
            title: g.title,
            description: g.description,
            min_households: g.min_households,
            starts_at: g.starts_at,
            deadline: g.deadline,
            pickup_starts_at: g.pickup_starts_at,
            pickup_ends_at: g.pickup_ends_at,
            door_delivery: g.door_delivery,
            status: g.status,
            status_reason: g.status_reason,
            succeeded_at: g.succeeded_at,
            pickup_point_ids,
            items: items.into_iter().map(GroupBuyItem::from).collect(),
            created_at: g.created_at,
        }
    }
}

/// A participant's self-introduction (shown to the other participants).
#[derive(Debug, Serialize, ToSchema)]
pub struct Introduction {
    /// The participant's name, masked (`王**`).
    pub name: String,
    pub intro: String,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupBuyDetail {
    pub group_buy: GroupBuy,
    /// Participants' introductions: shown to participants and staff only.
    pub introductions: Vec<Introduction>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupBuyFilter {
    pub status: Option<GroupBuyStatus>,
}

// ---------------------------------------------------------------- organising

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBuyItem {
    /// A product of the organising merchant's catalog (title and unit
    /// default to the product's).
    pub product_id: Option<ProductId>,
    /// At most 60 characters (required without a product).
    pub title: Option<String>,
    /// At most 16 characters (required without a product).
    pub unit: Option<String>,
    /// Fen: the group price.
    pub price: Fen,
    /// Fen: the usual price (default: the product's price).
    pub original_price: Option<Fen>,
    /// Units on offer (1 or more).
    pub stock: i64,
    /// At most this many units per household.
    pub per_household_limit: Option<i32>,
    pub sort_order: Option<i32>,
}

impl From<group_buy_item::Model> for NewGroupBuyItem {
    /// An item as written, planned again when an edit leaves the items as they are.
    fn from(i: group_buy_item::Model) -> Self {
        Self {
            product_id: i.product_id,
            title: Some(i.title),
            unit: Some(i.unit),
            price: i.price,
            original_price: i.original_price,
            stock: i.initial_stock,
            per_household_limit: i.per_household_limit,
            sort_order: Some(i.sort_order),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupBuy {
    /// Merchants say which community (the property's route names it in the path).
    pub community_id: Option<CommunityId>,
    /// At most 60 characters.
    pub title: String,
    /// At most 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// 成团人数: distinct paying households needed (1 to 10,000).
    pub min_households: i32,
    /// When it starts taking orders (default: when published).
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops taking orders; below the minimum then, it fails and
    /// every paid order is refunded.
    pub deadline: DateTime<Utc>,
    pub pickup_starts_at: Option<DateTime<Utc>>,
    pub pickup_ends_at: Option<DateTime<Utc>>,
    /// Whether residents may ask for door delivery.
    #[serde(default)]
    pub door_delivery: bool,
    /// Where it can be collected (this community's active points).
    #[serde(default)]
    pub pickup_point_ids: Vec<PickupPointId>,
    /// 1 to 50 items.
    pub items: Vec<NewGroupBuyItem>,
    /// Open it at once (default: a draft).
    #[serde(default)]
    pub publish: bool,
}

/// Changes to a draft group buy: what is given replaces what was there
/// (`items` and `pickup_point_ids` whole); the result is checked like a new one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBuyChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub min_households: Option<i32>,
    pub starts_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    /// `null` clears the pickup window (give both ends or neither).
    #[serde(default, deserialize_with = "crate::kernel::http::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub pickup_starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::kernel::http::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>, nullable)]
    pub pickup_ends_at: Option<Option<DateTime<Utc>>>,
    pub door_delivery: Option<bool>,
    pub pickup_point_ids: Option<Vec<PickupPointId>>,
    /// Replaces every item (new item ids).
    pub items: Option<Vec<NewGroupBuyItem>>,
}

impl GroupBuyChanges {
    /// The draft `g` after these changes, as a request to plan again (an
    /// edit is checked like a new group buy). `items` and `points` are the
    /// draft's as written, for the changes that leave them out.
    pub fn over(
        self,
        g: &group_buy::Model,
        items: Vec<group_buy_item::Model>,
        points: Vec<PickupPointId>,
    ) -> NewGroupBuy {
        NewGroupBuy {
            community_id: None,
            title: self.title.unwrap_or_else(|| g.title.clone()),
            description: self.description.unwrap_or_else(|| g.description.clone()),
            min_households: self.min_households.unwrap_or(g.min_households),
            starts_at: Some(self.starts_at.unwrap_or(g.starts_at)),
            deadline: self.deadline.unwrap_or(g.deadline),
            pickup_starts_at: self.pickup_starts_at.unwrap_or(g.pickup_starts_at),
            pickup_ends_at: self.pickup_ends_at.unwrap_or(g.pickup_ends_at),
            door_delivery: self.door_delivery.unwrap_or(g.door_delivery),
            pickup_point_ids: self.pickup_point_ids.unwrap_or(points),
            items: self
                .items
                .unwrap_or_else(|| items.into_iter().map(NewGroupBuyItem::from).collect()),
            publish: false,
        }
    }
}

/// An organiser's move of a group buy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupBuyMove {
    /// `open` (publish a draft; the property: resume a paused group buy,
    /// which takes orders again as open or, if it had reached its minimum,
    /// succeeded), `closed` (stop selling early, once succeeded),
    /// `fulfilling`, `ready`, `completed` or `cancelled` (reason required;
    /// every paid order is refunded).
    pub status: GroupBuyStatus,
    pub reason: Option<String>,
}

// ---------------------------------------------------------------- joining

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemQuantity {
    pub item_id: GroupBuyItemId,
    /// 1 to 999.
    pub quantity: u32,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinGroupBuy {
    /// Required when you belong to several households here.
    pub household_id: Option<HouseholdId>,
    /// Each item once.
    pub items: Vec<ItemQuantity>,
    pub receiving: Receiving,
    /// A short self-introduction for the other participants (at most 100 characters).
    pub intro: Option<String>,
}

impl JoinGroupBuy {
    /// Refuses a join that names no item.
    pub fn check_items(&self) -> ApiResult<()> {
        if self.items.is_empty() {
            return Err(ApiError::invalid_field("items", "choose at least one item"));
        }
        Ok(())
    }
}
