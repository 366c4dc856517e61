//! A group buy is called off (failed below its minimum, or cancelled): its
//! unpaid orders are cancelled and its paid ones refunded, in batches
//! claimed with `SKIP LOCKED`. Each order moves by a conditional update and
//! each refund is keyed by its decision, so two instances sweeping at once
//! refund every order exactly once, and a crash mid-way resumes at the next
//! sweep.

use entity::{GroupBuyStatus, OrderStatus, group_buy, order};
use sea_orm::{DatabaseConnection, EntityTrait};

use crate::config::Settings;
use crate::kernel::db::{begin_write, claim_ids};
use crate::kernel::error::ApiResult;
use crate::orders::service::{Actor, MoveDetails};

use super::orders::advance;

/// Cancels the unpaid orders and refunds the paid ones of failed and
/// cancelled group buys, one batch per call. Returns how many it settled.
pub async fn settle_called_off(
    db: &DatabaseConnection,
    settings: &Settings,
    batch: u32,
) -> ApiResult<usize> {
    let txn = begin_write(db).await?;
    let ids: Vec<entity::OrderId> = claim_ids(
        &txn,
        "SELECT id FROM orders WHERE status IN ('pending_payment', 'paid') \
         AND group_buy_id IN (SELECT id FROM group_buys WHERE status IN ('failed', 'cancelled')) \
         ORDER BY id LIMIT $1",
        vec![i64::from(batch).into()],
    )
    .await?;
    let mut settled = 0;
    for id in ids {
        let Some(o) = order::Entity::find_by_id(id).one(&txn).await? else {
            continue;
        };
        let group_status = match o.group_buy_id {
            Some(g) => group_buy::Entity::find_by_id(g)
                .one(&txn)
                .await?
                .map(|g| g.status),
            None => None,
        };
        let reason = match group_status {
            Some(GroupBuyStatus::Failed) => "团购未成团",
            _ => "团购已取消",
        };
        let to = match o.status {
            OrderStatus::PendingPayment => OrderStatus::Cancelled,
            OrderStatus::Paid => OrderStatus::Refunded,
            _ => continue,
        };
        advance(
            &txn,
            settings,
            &o,
            to,
            Actor::SYSTEM,
            MoveDetails {
                reason: Some(reason.to_owned()),
                ..Default::default()
            },
        )
        .await?;
        settled += 1;
    }
    txn.commit().await?;
    Ok(settled)
}
