//! Pickup codes, slots and reminders.
//!
//! - A code is 8 random digits, issued when an order reaches its pickup
//!   point. It is stored encrypted (its holder sees it) and as a keyed hash
//!   bound to the point (what staff look up); a code is verified once, by a
//!   conditional update, and the order's other codes are revoked with it.
//! - A resident may name a verified neighbour to collect (代取): the
//!   neighbour gets a code of their own; naming another revokes it.
//! - Slots are booked with a guarded update (`booked < capacity`).

use chrono::{DateTime, Duration, Utc};
use entity::{
    OrderStatus, PickupCodeId, PickupCodeStatus, PickupPointId, UserId, order, pickup_code,
    pickup_point,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::kernel::clock;
use crate::kernel::db::{begin_write, claim_ids, sql};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::service::{Actor, MoveDetails, advance};
use crate::state::AppState;

/// Digits in a pickup code.
const CODE_DIGITS: u32 = 8;

fn code_hash(state: &AppState, point: PickupPointId, code: &str) -> String {
    state.pii.lookup_hash("pickup", &format!("{point}:{code}"))
}

/// Issues a fresh code for `holder` to collect `order`. Returns the code.
pub async fn issue_code<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    order: &order::Model,
    holder: UserId,
    delegated: bool,
) -> ApiResult<String> {
    let point = order.pickup_point_id.ok_or_else(|| {
        ApiError::new(ErrorCode::InvalidTransition, "the order is not for pickup")
    })?;
    // Unique among the point's live codes: draw again on the (rare) clash.
    let mut code = String::new();
    for _ in 0..5 {
        let candidate = format!(
            "{:0width$}",
            rand::random_range(0..10u64.pow(CODE_DIGITS)),
            width = CODE_DIGITS as usize
        );
        let clash = pickup_code::Entity::find()
            .filter(pickup_code::Column::PickupPointId.eq(point))
            .filter(pickup_code::Column::CodeHash.eq(code_hash(state, point, &candidate)))
            .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active))
            .one(db)
            .await?;
        if clash.is_none() {
            code = candidate;
            break;
        }
    }
    if code.is_empty() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "no free pickup code after 5 draws"
        )));
    }
    pickup_code::Entity::insert(pickup_code::ActiveModel {
        id: Set(PickupCodeId::new()),
        order_id: Set(order.id),
        pickup_point_id: Set(point),
        holder_id: Set(holder),
        delegated: Set(delegated),
        code_hash: Set(code_hash(state, point, &code)),
        code_enc: Set(state.pii.encrypt(&code)?),
        status: Set(PickupCodeStatus::Active),
        used_at: Set(None),
        used_by: Set(None),
        created_at: Set(clock::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(code)
}

async fn point_name<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<String> {
    Ok(match order.pickup_point_id {
        Some(p) => pickup_point::Entity::find_by_id(p)
            .one(db)
            .await?
            .map(|p| p.name)
            .unwrap_or_default(),
        None => String::new(),
    })
}

/// The order has reached its pickup point: the resident gets a code and a
/// message saying where.
pub async fn order_ready<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    order: &order::Model,
) -> ApiResult<()> {
    let code = issue_code(db, state, order, order.user_id, false).await?;
    crate::outbox::notify(
        db,
        &state.settings,
        order.user_id,
        "pickup_ready",
        &[
            ("order_no", order.order_no.clone()),
            ("pickup_point", point_name(db, order).await?),
            ("code", code),
        ],
    )
    .await
}

/// Names `neighbour` to collect the order: revokes an earlier collector's
/// code, issues theirs and tells them. `None` (the number named is not a
/// verified resident's) only revokes.
pub async fn delegate<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    order: &order::Model,
    neighbour: Option<UserId>,
) -> ApiResult<()> {
    pickup_code::Entity::update_many()
        .set(pickup_code::ActiveModel {
            status: Set(PickupCodeStatus::Revoked),
            ..Default::default()
        })
        .filter(pickup_code::Column::OrderId.eq(order.id))
        .filter(pickup_code::Column::Delegated.eq(true))
        .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active))
        .exec(db)
        .await?;
    let Some(neighbour) = neighbour else {
        return Ok(());
    };
    let code = issue_code(db, state, order, neighbour, true).await?;
    crate::outbox::notify(
        db,
        &state.settings,
        neighbour,
        "pickup_delegated",
        &[
            ("order_no", order.order_no.clone()),
            ("pickup_point", point_name(db, order).await?),
            ("code", code),
        ],
    )
    .await
}

/// The active codes `holder` may show, with their plaintext.
pub async fn codes_held<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    holder: UserId,
    order: Option<entity::OrderId>,
) -> ApiResult<Vec<(pickup_code::Model, String)>> {
    let mut select = pickup_code::Entity::find()
        .filter(pickup_code::Column::HolderId.eq(holder))
        .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active))
        .order_by_asc(pickup_code::Column::Id);
    if let Some(o) = order {
        select = select.filter(pickup_code::Column::OrderId.eq(o));
    }
    let mut out = Vec::new();
    for c in select.all(db).await? {
        let plain = state.pii.decrypt(&c.code_enc)?;
        out.push((c, plain));
    }
    Ok(out)
}

/// Verifies a code at a point (核销): the code is used, the order completed,
/// its other codes revoked. A second verification of the same code is
/// refused with `pickup_code_used`.
pub async fn verify(
    state: &AppState,
    point: PickupPointId,
    code: &str,
    staff: UserId,
) -> ApiResult<(order::Model, pickup_code::Model)> {
    let code = code.trim();
    if code.len() != CODE_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field("code", "a pickup code is 8 digits"));
    }
    let hash = code_hash(state, point, code);
    let txn = begin_write(&state.db).await?;
    let candidates = pickup_code::Entity::find()
        .filter(pickup_code::Column::PickupPointId.eq(point))
        .filter(pickup_code::Column::CodeHash.eq(hash))
        .order_by_desc(pickup_code::Column::Id)
        .all(&txn)
        .await?;
    let Some(found) = candidates
        .iter()
        .find(|c| c.status == PickupCodeStatus::Active)
        .or(candidates.first())
        .cloned()
    else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "no such pickup code at this point",
        ));
    };
    if found.status != PickupCodeStatus::Active {
        let e = ApiError::new(
            ErrorCode::PickupCodeUsed,
            match found.status {
                PickupCodeStatus::Used => "this code was already used",
                _ => "this code is no longer valid",
            },
        );
        return Err(match found.used_at {
            Some(at) => e.with_details(serde_json::json!({ "used_at": at })),
            None => e,
        });
    }
    let now = clock::now();
    let used = pickup_code::Entity::update_many()
        .set(pickup_code::ActiveModel {
            status: Set(PickupCodeStatus::Used),
            used_at: Set(Some(now)),
            used_by: Set(Some(staff)),
            ..Default::default()
        })
        .filter(pickup_code::Column::Id.eq(found.id))
        .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active))
        .exec(&txn)
        .await?
        .rows_affected;
    if used != 1 {
        return Err(ApiError::new(
            ErrorCode::PickupCodeUsed,
            "this code was already used",
        ));
    }
    let order = order::Entity::find_by_id(found.order_id)
        .one(&txn)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let reason = if found.delegated {
        "collected by a neighbour (代取)"
    } else {
        "collected"
    };
    let done = advance(
        &txn,
        &state.settings,
        &order,
        OrderStatus::Completed,
        Actor::staff(staff),
        MoveDetails {
            reason: Some(reason.to_owned()),
            ..Default::default()
        },
    )
    .await?;
    pickup_code::Entity::update_many()
        .set(pickup_code::ActiveModel {
            status: Set(PickupCodeStatus::Revoked),
            ..Default::default()
        })
        .filter(pickup_code::Column::OrderId.eq(order.id))
        .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let mut found = found;
    found.status = PickupCodeStatus::Used;
    found.used_at = Some(now);
    found.used_by = Some(staff);
    Ok((done, found))
}

/// Books `slot` for the order, giving back the slot it held before.
pub async fn book_slot<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    slot: entity::PickupSlotId,
) -> ApiResult<()> {
    let backend = db.get_database_backend();
    if order.pickup_slot_id == Some(slot) {
        return Ok(());
    }
    let taken = db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE pickup_slots SET booked = booked + 1 WHERE id = $1 AND booked < capacity",
            ),
            [slot.as_uuid().into()],
        ))
        .await?
        .rows_affected();
    if taken != 1 {
        return Err(ApiError::new(
            ErrorCode::SlotFull,
            "this slot is fully booked; choose another",
        ));
    }
    let mut update = order::Entity::update_many()
        .set(order::ActiveModel {
            pickup_slot_id: Set(Some(slot)),
            slot_reminded_at: Set(None),
            updated_at: Set(clock::now()),
            ..Default::default()
        })
        .filter(order::Column::Id.eq(order.id));
    update = match order.pickup_slot_id {
        Some(previous) => update.filter(order::Column::PickupSlotId.eq(previous)),
        None => update.filter(order::Column::PickupSlotId.is_null()),
    };
    if update.exec(db).await?.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the order's slot changed meanwhile; reload it",
        ));
    }
    if let Some(previous) = order.pickup_slot_id {
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "UPDATE pickup_slots SET booked = booked - 1 WHERE id = $1 AND booked > 0",
            ),
            [previous.as_uuid().into()],
        ))
        .await?;
    }
    Ok(())
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
    use chrono::TimeZone;
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

/// Reminds residents of orders waiting at a pickup point: once their booked
/// slot is within the hour, and every `pickup_reminder_hours` while the
/// order stays uncollected. Returns how many reminders were queued.
pub async fn send_reminders(state: &AppState, now: DateTime<Utc>) -> ApiResult<usize> {
    let settings = &state.settings;
    let batch = i64::from(settings.jobs.batch_size);
    let every = Duration::hours(i64::from(settings.jobs.pickup_reminder_hours.max(1)));
    let txn = begin_write(&state.db).await?;
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
            let code = codes_held(&txn, state, o.user_id, Some(o.id))
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
            crate::outbox::notify(
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
