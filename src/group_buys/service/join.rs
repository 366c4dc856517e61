//! Joining a group buy: while it takes orders, a household's choice of its
//! items becomes an order (reserving the stock) to pay before the payment
//! deadline, which never runs past the group buy's own.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    Fulfilment, GroupBuyItemId, HouseholdId, PickupPointId, UserId, group_buy, group_buy_item,
    group_buy_pickup_point,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{Viewer, group_here};
use crate::config::Settings;
use crate::group_buys::views::JoinGroupBuy;
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{self, ClientInfo, Idempotency, LineSpec, NewOrder, Submitted};
use crate::orders::views::check_quantity;

/// A join checked against its group buy: the lines to order, and where
/// the group buy may be received.
pub struct Joining {
    pub group: group_buy::Model,
    pub lines: Vec<LineSpec>,
    /// The pickup points it offers.
    pub points: Vec<PickupPointId>,
    /// When the join was checked (the payment deadline counts from it).
    pub at: DateTime<Utc>,
}

/// Checks that the group buy takes orders now (its merchant selling here)
/// and turns the chosen items into order lines.
pub async fn joining(
    db: &DatabaseConnection,
    viewer: Viewer,
    group: entity::GroupBuyId,
    body: &JoinGroupBuy,
) -> ApiResult<Joining> {
    let g = group_here(db, viewer, group).await?;
    let now = clock::now();
    if let Some(merchant) = g.merchant_id {
        crate::merchant::service::ensure_selling(db, merchant, viewer.community).await?;
    }
    if !g.status.takes_orders() || now < g.starts_at {
        return Err(ApiError::new(
            ErrorCode::GroupBuyNotOpen,
            match g.status {
                s if s.takes_orders() => format!("the group buy opens at {}", g.starts_at),
                s => format!("the group buy is {s}"),
            },
        ));
    }
    if now >= g.deadline {
        return Err(ApiError::new(
            ErrorCode::DeadlinePassed,
            "the group buy's deadline has passed",
        ));
    }
    body.check_items()?;
    // The items and the points offered, read side by side.
    let (items, points) = tokio::try_join!(
        group_buy_item::Entity::find()
            .filter(group_buy_item::Column::GroupBuyId.eq(g.id))
            .all(db),
        group_buy_pickup_point::Entity::find()
            .filter(group_buy_pickup_point::Column::GroupBuyId.eq(g.id))
            .all(db),
    )?;
    let items: HashMap<GroupBuyItemId, group_buy_item::Model> =
        items.into_iter().map(|i| (i.id, i)).collect();
    let points: Vec<PickupPointId> = points.into_iter().map(|p| p.pickup_point_id).collect();
    let mut lines = Vec::new();
    for (n, wanted) in body.items.iter().enumerate() {
        check_quantity(wanted.quantity)?;
        if body.items[..n].iter().any(|w| w.item_id == wanted.item_id) {
            return Err(ApiError::invalid_field("items", "list each item once"));
        }
        let item = items
            .get(&wanted.item_id)
            .ok_or_else(|| ApiError::invalid_field("item_id", "not an item of this group buy"))?;
        lines.push(LineSpec {
            product_id: item.product_id,
            item_id: Some(item.id),
            title: item.title.clone(),
            unit: item.unit.clone(),
            unit_price: item.price,
            quantity: wanted.quantity,
            product_stock: false,
            per_household_limit: item.per_household_limit,
        });
    }
    Ok(Joining {
        group: g,
        lines,
        points,
        at: now,
    })
}

/// The order a join makes, beside its lines: who, for which household, and
/// how it is received (checked by the orders capability).
pub struct JoinOrder {
    pub user: UserId,
    pub household: HouseholdId,
    pub fulfilment: Fulfilment,
    pub pickup_point: Option<PickupPointId>,
    pub address: String,
    pub address_remark: Option<String>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub intro: Option<String>,
    pub client: ClientInfo,
    pub idempotency: Option<Idempotency>,
}

/// Submits the join's order, to be paid within the unpaid timeout and
/// before the group buy's deadline.
pub async fn join(
    db: &DatabaseConnection,
    settings: &Settings,
    joining: Joining,
    order: JoinOrder,
) -> ApiResult<Submitted> {
    let g = joining.group;
    let timeout = chrono::Duration::minutes(i64::from(settings.payment.unpaid_timeout_mins));
    service::submit(
        db,
        NewOrder {
            community_id: g.community_id,
            merchant_id: g.merchant_id,
            group_buy_id: Some(g.id),
            user_id: order.user,
            household_id: order.household,
            lines: joining.lines,
            fulfilment: order.fulfilment,
            pickup_point_id: order.pickup_point,
            address: order.address,
            address_remark: order.address_remark,
            delivery_time: order.delivery_time,
            intro: order.intro,
            client: order.client,
            idempotency: order.idempotency,
            payment_deadline: (joining.at + timeout).min(g.deadline),
        },
    )
    .await
}
