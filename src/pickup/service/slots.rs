//! Pickup slots: cut from a point's opening hours, booked with a guarded
//! update (`booked < capacity`) so a slot never takes more than it holds.

use chrono::{DateTime, Duration, TimeZone, Utc};
use entity::{PickupSlotId, community, order, pickup_point, pickup_slot};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionSession, TransactionTrait,
};

use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::pickup::views::{CheckedPlan, Slot};

/// Books `slot` for the order, giving back the slot it held before.
pub async fn book_slot<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    slot: PickupSlotId,
) -> ApiResult<()> {
    if order.pickup_slot_id == Some(slot) {
        return Ok(());
    }
    let taken = db::execute(
        db,
        "UPDATE pickup_slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity",
        [slot.as_uuid().into()],
    )
    .await?
    .rows_affected();
    if taken != 1 {
        return Err(ApiError::new(
            ErrorCode::SlotFull,
            "this slot is fully booked; choose another",
        ));
    }
    let update = order::Entity::update_many()
        .set(order::ActiveModel {
            pickup_slot_id: Set(Some(slot)),
            slot_reminded_at: Set(None),
            updated_at: Set(clock::now()),
            ..Default::default()
        })
        .filter(order::Column::Id.eq(order.id));
    let update = match order.pickup_slot_id {
        Some(previous) => update.filter(order::Column::PickupSlotId.eq(previous)),
        None => update.filter(order::Column::PickupSlotId.is_null()),
    };
    db::guarded(
        db,
        update,
        ApiError::new(
            ErrorCode::Conflict,
            "the order's slot changed meanwhile; reload it",
        ),
    )
    .await?;
    if let Some(previous) = order.pickup_slot_id {
        db::execute(
            db,
            "UPDATE pickup_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0",
            [previous.as_uuid().into()],
        )
        .await?;
    }
    Ok(())
}

/// Books the slot a resident chose for an order collected at a pickup
/// point: one of its point's slots, not yet begun. Returns the order as it
/// now is.
pub async fn choose_slot<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    order: &order::Model,
    slot: PickupSlotId,
) -> ApiResult<order::Model> {
    let slot = pickup_slot::Entity::find_by_id(slot)
        .one(db)
        .await?
        .filter(|s| Some(s.pickup_point_id) == order.pickup_point_id)
        .ok_or_else(|| {
            ApiError::invalid_field("slot_id", "not a slot of the order's pickup point")
        })?;
    if slot.starts_at <= clock::now() {
        return Err(ApiError::invalid_field("slot_id", "this slot has begun"));
    }
    let txn = begin_write(db).await?;
    book_slot(&txn, order, slot.id).await?;
    txn.commit().await?;
    order::Entity::find_by_id(order.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Cuts the point's opening hours into bookable slots, in the community's
/// time. Slots that already exist are kept as they are (generating twice
/// is harmless). Returns every slot of the days planned.
pub async fn generate_slots<C: ConnectionTrait>(
    db: &C,
    community: &community::Model,
    point: &pickup_point::Model,
    plan: CheckedPlan,
) -> ApiResult<Vec<Slot>> {
    let tz: chrono_tz::Tz = community
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let now = clock::now();
    let slots = plan_slots(
        point,
        &tz,
        plan.from,
        plan.days,
        plan.slot_minutes,
        plan.capacity,
        now,
    );
    if slots.is_empty() {
        return Err(ApiError::invalid_field(
            "from",
            "the point is not open on these days (or they have passed)",
        ));
    }
    let first = plan.from;
    pickup_slot::Entity::insert_many(slots)
        .on_conflict(
            OnConflict::columns([
                pickup_slot::Column::PickupPointId,
                pickup_slot::Column::StartsAt,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    let from = tz
        .from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now, |t| t.with_timezone(&Utc));
    let made = pickup_slot::Entity::find()
        .filter(pickup_slot::Column::PickupPointId.eq(point.id))
        .filter(pickup_slot::Column::StartsAt.gte(from))
        .filter(pickup_slot::Column::StartsAt.lt(from + Duration::days(i64::from(plan.days))))
        .order_by_asc(pickup_slot::Column::StartsAt)
        .all(db)
        .await?;
    Ok(made.into_iter().map(Slot::from).collect())
}

/// The point's slots not yet over, soonest first (at most 500).
pub async fn upcoming_slots<C: ConnectionTrait>(
    db: &C,
    point: &pickup_point::Model,
) -> ApiResult<Vec<Slot>> {
    let slots = pickup_slot::Entity::find()
        .filter(pickup_slot::Column::PickupPointId.eq(point.id))
        .filter(pickup_slot::Column::EndsAt.gt(clock::now()))
        .order_by_asc(pickup_slot::Column::StartsAt)
        .limit(500)
        .all(db)
        .await?;
    Ok(slots.into_iter().map(Slot::from).collect())
}

/// Slots cutting the point's opening hours into `slot_minutes` pieces for
/// `days` days from `from` (local dates), leaving out those already begun.
pub fn plan_slots(
    point: &pickup_point::Model,
    tz: &chrono_tz::Tz,
    from: chrono::NaiveDate,
    days: u32,
    slot_minutes: u32,
    capacity: i32,
    now: DateTime<Utc>,
) -> Vec<entity::pickup_slot::ActiveModel> {
    let step = Duration::minutes(i64::from(slot_minutes));
    let mut slots = Vec::new();
    for d in 0..days {
        let day = from + chrono::Days::new(u64::from(d));
        let weekday = chrono::Datelike::weekday(&day).number_from_monday() as u8;
        for period in point.opening_hours.0.iter() {
            if !period.weekdays.contains(&weekday) {
                continue;
            }
            let parse = |t: &str| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok();
            let (Some(opens), Some(closes)) = (parse(&period.opens), parse(&period.closes)) else {
                continue;
            };
            let (Some(start), Some(end)) = (
                tz.from_local_datetime(&day.and_time(opens)).earliest(),
                tz.from_local_datetime(&day.and_time(closes)).earliest(),
            ) else {
                continue;
            };
            let (mut at, end) = (start.with_timezone(&Utc), end.with_timezone(&Utc));
            while at + step <= end {
                if at > now {
                    slots.push(entity::pickup_slot::ActiveModel {
                        id: Set(entity::PickupSlotId::new()),
                        pickup_point_id: Set(point.id),
                        starts_at: Set(at),
                        ends_at: Set(at + step),
                        capacity: Set(capacity),
                        booked: Set(0),
                        created_at: Set(now),
                    });
                }
                at += step;
            }
        }
    }
    slots
}

/// The community's time zone (Asia/Shanghai if it cannot be read).
pub async fn community_tz<C: ConnectionTrait>(
    db: &C,
    community: entity::CommunityId,
) -> ApiResult<chrono_tz::Tz> {
    Ok(entity::community::Entity::find_by_id(community)
        .one(db)
        .await?
        .and_then(|c| c.timezone.parse().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai))
}

/// `11-24 18:30`, in the community's time.
pub fn local_time(tz: &chrono_tz::Tz, at: DateTime<Utc>) -> String {
    at.with_timezone(tz).format("%m-%d %H:%M").to_string()
}
