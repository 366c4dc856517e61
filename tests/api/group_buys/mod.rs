//! Group buys, orders and pickup, through HTTP, with the sweepers driven by
//! the test at the time it chooses.

mod drafts;
mod joining;
mod lifecycle;

use serde_json::Value;

use crate::support::api::{GroupBuy, GroupBuyMove, JoinRequest, Order};
use crate::support::fixtures::World;
use crate::support::{Session, TestApp, status_and_json};

/// `who` joins `group` with `quantity` of its first item, collected at the
/// world's pickup point; the order made.
async fn joined(app: &TestApp, w: &World, who: &Session, group: &GroupBuy, quantity: u32) -> Order {
    let request = JoinRequest::pickup(group, quantity, &w.point);
    app.join_group_buy(who, w.community, &group.id, &request)
        .await
}

/// `who` pays `order`; the status and the answer.
async fn pay(app: &TestApp, w: &World, who: &Session, order: &Order) -> (u16, Value) {
    status_and_json(app.try_pay(who, w.community, &order.id).await).await
}

/// `group` as `who` sees it now.
async fn group_now(app: &TestApp, w: &World, who: &Session, group: &GroupBuy) -> Value {
    app.group_buy_detail(who, w.community, &group.id).await
}

/// `order` as `who` sees it now.
async fn order_now(app: &TestApp, w: &World, who: &Session, order: &Order) -> Value {
    app.order_detail(who, w.community, &order.id).await
}

/// The world's manager moves `group`; the status and the answer.
async fn move_group(
    app: &TestApp,
    w: &World,
    group: &GroupBuy,
    to: GroupBuyMove<'_>,
) -> (u16, Value) {
    let res = app
        .try_move_group_buy(&w.manager, w.community, &group.id, &to)
        .await;
    status_and_json(res).await
}
