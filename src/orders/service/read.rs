//! Reading orders: the one a caller may see, lists of them by whose they
//! are, and an order's history.

use std::collections::HashMap;

use entity::{
    CommunityId, MerchantId, OrderId, UserId, order, order_event, order_line, pickup_code,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::receiving::require_resident;
use crate::auth::CommunityScope;
use crate::auth::access::ORDER_STAFF;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::{Page, PageRequest};
use crate::orders::views::{ClientView, HeldCode, Order, OrderDetail, OrderFilter};

/// Orders with their lines (one query for all the lines).
pub async fn with_lines<C: ConnectionTrait>(
    db: &C,
    orders: Vec<order::Model>,
) -> ApiResult<Vec<Order>> {
    let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let mut lines: HashMap<OrderId, Vec<order_line::Model>> = HashMap::new();
    if !ids.is_empty() {
        for l in order_line::Entity::find()
            .filter(order_line::Column::OrderId.is_in(ids))
            .order_by_asc(order_line::Column::Id)
            .all(db)
            .await?
        {
            lines.entry(l.order_id).or_default().push(l);
        }
    }
    Ok(orders
        .into_iter()
        .map(|o| {
            let l = lines.remove(&o.id).unwrap_or_default();
            Order::new(o, l)
        })
        .collect())
}

/// One order with its lines.
pub async fn one_order<C: ConnectionTrait>(db: &C, o: order::Model) -> ApiResult<Order> {
    with_lines(db, vec![o])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// The community's order `id`, whoever it belongs to.
async fn in_community<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: OrderId,
) -> ApiResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::CommunityId.eq(community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The order, if the caller may see it here: their household's order, or
/// any order of the community for its staff.
pub async fn visible_order<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = in_community(db, scope.id(), id).await?;
    if scope.membership(o.household_id).is_some() || scope.has_any_role(ORDER_STAFF) {
        Ok(o)
    } else {
        Err(ApiError::not_found())
    }
}

/// The order, if it belongs to one of the caller's households here.
pub async fn own_order<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    require_resident(scope)?;
    let o = in_community(db, scope.id(), id).await?;
    if scope.membership(o.household_id).is_some() {
        Ok(o)
    } else {
        Err(ApiError::not_found())
    }
}

/// One of the merchant's orders.
pub async fn merchant_order<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    id: OrderId,
) -> ApiResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::MerchantId.eq(merchant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// An order the property sells in its community (its own group buys);
/// the merchant's orders are the merchant's to move.
pub async fn property_order<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = in_community(db, community, id).await?;
    if o.merchant_id.is_some() {
        return Err(ApiError::new(
            crate::kernel::error::ErrorCode::Forbidden,
            "the merchant handles this order",
        ));
    }
    Ok(o)
}

/// Whose orders a list shows.
#[derive(Clone, Copy, Debug)]
pub enum Whose {
    /// The orders a user submitted, in every community.
    Submitter(UserId),
    /// A merchant's, in every community it sells in.
    Merchant(MerchantId),
    /// Every order of a community.
    Community(CommunityId),
}

/// One page of `whose` orders matching `filter`, with their lines.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    whose: Whose,
    filter: &OrderFilter,
    page: PageRequest,
) -> ApiResult<Page<Order>> {
    let mut select = order::Entity::find().filter(match whose {
        Whose::Submitter(u) => order::Column::UserId.eq(u),
        Whose::Merchant(m) => order::Column::MerchantId.eq(m),
        Whose::Community(c) => order::Column::CommunityId.eq(c),
    });
    if let Some(s) = filter.status {
        select = select.filter(order::Column::Status.eq(s));
    }
    if let Some(g) = filter.group_buy_id {
        select = select.filter(order::Column::GroupBuyId.eq(g));
    }
    if let Some(m) = filter.merchant_id {
        select = select.filter(order::Column::MerchantId.eq(m));
    }
    let found = page
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    Ok(Page {
        items: with_lines(db, found.items).await?,
        next_cursor: found.next_cursor,
    })
}

/// The order with its history and refunds; `codes` are the pickup codes
/// the viewer holds for it, and the client it was submitted from is shown
/// when `show_client`.
pub async fn detail<C: ConnectionTrait>(
    db: &C,
    o: order::Model,
    codes: Vec<(pickup_code::Model, String)>,
    show_client: bool,
) -> ApiResult<OrderDetail> {
    let events = order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(o.id))
        .order_by_asc(order_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let refunds = crate::payment::service::refunds::refunds_of(db, o.id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let pickup_codes = codes
        .into_iter()
        .map(|(c, code)| HeldCode {
            code,
            delegated: c.delegated,
        })
        .collect();
    let client = show_client.then(|| ClientView {
        ip: o.client_ip.clone(),
        user_agent: o.user_agent.clone(),
        kind: o.client_kind,
    });
    let order = one_order(db, o).await?;
    Ok(OrderDetail {
        order,
        events,
        refunds,
        pickup_codes,
        client,
    })
}
