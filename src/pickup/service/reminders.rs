//! Reminders of orders waiting at a pickup point, claimed in batches so
//! that instances running the sweep side by side never send one twice.

use chrono::{DateTime, Duration, Utc};
use entity::order;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionSession,
    TransactionTrait,
};

use super::slots::{community_tz, local_time};
use super::{codes_held, point_name};
use crate::config::Settings;
use crate::kernel::db::{begin_write, claim_ids};
use crate::kernel::error::ApiResult;
use crate::pii::PiiCipher;

/// Reminds residents of orders waiting at a pickup point: once their booked
/// slot is within the hour, and every `pickup_reminder_hours` while the
/// order stays uncollected. Returns how many reminders were queued.
pub async fn send_reminders<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    pii: &PiiCipher,
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let batch = i64::from(settings.jobs.batch_size);
    let every = Duration::hours(i64::from(settings.jobs.pickup_reminder_hours.max(1)));
    let txn = begin_write(db).await?;
    let uncollected: Vec<entity::OrderId> = claim_ids(
        &txn,
        "SELECT id FROM orders WHERE status = 'ready_for_pickup' AND fulfilled_at <= $1 \
         AND (pickup_reminded_at IS NULL OR pickup_reminded_at <= $1) ORDER BY id LIMIT $2",
        vec![(now - every).into(), batch.into()],
    )
    .await?;
    let slots_due: Vec<entity::OrderId> = claim_ids(
        &txn,
        "SELECT id FROM orders WHERE status = 'ready_for_pickup' AND slot_reminded_at IS NULL \
         AND pickup_slot_id IN (SELECT id FROM pickup_slots WHERE starts_at <= $1 AND ends_at > $2) \
         ORDER BY id LIMIT $3",
        vec![(now + Duration::hours(1)).into(), now.into(), batch.into()],
    )
    .await?;
    let mut sent = 0;
    for (ids, kind) in [
        (uncollected, "pickup_reminder"),
        (slots_due, "slot_reminder"),
    ] {
        for id in ids {
            let Some(o) = order::Entity::find_by_id(id).one(&txn).await? else {
                continue;
            };
            let tz = community_tz(&txn, o.community_id).await?;
            let code = codes_held(&txn, pii, o.user_id, Some(o.id))
                .await?
                .into_iter()
                .map(|(_, plain)| plain)
                .next()
                .unwrap_or_default();
            let slot = match o.pickup_slot_id {
                Some(s) => entity::pickup_slot::Entity::find_by_id(s)
                    .one(&txn)
                    .await?
                    .map(|s| local_time(&tz, s.starts_at))
                    .unwrap_or_default(),
                None => String::new(),
            };
            crate::outbox::service::notify(
                &txn,
                settings,
                o.user_id,
                kind,
                &[
                    ("order_no", o.order_no.clone()),
                    ("pickup_point", point_name(&txn, &o).await?),
                    ("code", code),
                    ("slot", slot),
                ],
            )
            .await?;
            let mut mark = order::ActiveModel::default();
            if kind == "pickup_reminder" {
                mark.pickup_reminded_at = Set(Some(now));
            } else {
                mark.slot_reminded_at = Set(Some(now));
            }
            order::Entity::update_many()
                .set(mark)
                .filter(order::Column::Id.eq(o.id))
                .exec(&txn)
                .await?;
            sent += 1;
        }
    }
    txn.commit().await?;
    Ok(sent)
}
