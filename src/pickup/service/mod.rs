//! Pickup codes, slots and reminders.
//!
//! - A code is 8 random digits, issued when an order reaches its pickup
//!   point. It is stored encrypted (its holder sees it) and as a keyed hash
//!   bound to the point (what staff look up); a code is verified once, by a
//!   guarded update, and the order's other codes are revoked with it.
//! - A resident may name a verified neighbour to collect (代取): the
//!   neighbour gets a code of their own; naming another revokes it.
//! - Slots are booked with a guarded update (`booked < capacity`)
//!   ([`slots`]); residents are reminded of what waits for them
//!   ([`reminders`]); each point has a message board ([`board`]).

use entity::{
    CommunityId, Fulfilment, OrderId, OrderStatus, PickupCodeId, PickupCodeStatus, PickupPointId,
    UserId, household_member, order, pickup_code, pickup_point, user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionSession,
    TransactionTrait,
};

use super::views::Uncollected;
use crate::auth::CommunityScope;
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::orders::service::{Actor, MoveDetails, advance};
use crate::pii::{PhoneNumber, PiiCipher};

pub mod board;
pub mod reminders;
pub mod slots;

pub use reminders::send_reminders;
pub use slots::plan_slots;

/// Digits in a pickup code.
const CODE_DIGITS: u32 = 8;

fn code_hash(pii: &PiiCipher, point: PickupPointId, code: &str) -> String {
    pii.lookup_hash("pickup", &format!("{point}:{code}"))
}

/// Issues a fresh code for `holder` to collect `order`. Returns the code.
pub async fn issue_code<C: ConnectionTrait>(
    db: &C,
    pii: &PiiCipher,
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
            .filter(pickup_code::Column::CodeHash.eq(code_hash(pii, point, &candidate)))
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
        code_hash: Set(code_hash(pii, point, &code)),
        code_enc: Set(pii.encrypt(&code)?),
        status: Set(PickupCodeStatus::Active),
        used_at: Set(None),
        used_by: Set(None),
        created_at: Set(clock::now()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(code)
}

/// The name of the order's pickup point, for messages.
pub(crate) async fn point_name<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
) -> ApiResult<String> {
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
    settings: &Settings,
    pii: &PiiCipher,
    order: &order::Model,
) -> ApiResult<()> {
    let code = issue_code(db, pii, order, order.user_id, false).await?;
    crate::outbox::service::notify(
        db,
        settings,
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

/// An order of the caller's household here, collected at a pickup point
/// and not yet final.
pub async fn own_pickup_order<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = crate::orders::service::own_order(db, scope, id).await?;
    if o.fulfilment != Fulfilment::Pickup {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "this order is delivered to the door",
        ));
    }
    if o.status.is_final() {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("the order is {}", o.status),
        ));
    }
    Ok(o)
}

/// An order of the caller's household waiting at its pickup point: the
/// one a collector can be named for.
pub async fn collectable_order<C: ConnectionTrait>(
    db: &C,
    scope: &CommunityScope,
    id: OrderId,
) -> ApiResult<order::Model> {
    let o = own_pickup_order(db, scope, id).await?;
    if o.status != OrderStatus::ReadyForPickup {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "a collector can be named once the order is at the pickup point",
        ));
    }
    Ok(o)
}

/// Names the owner of `phone` to collect the order (代取), if they are a
/// verified resident of the community; whoever was named before is let go
/// either way, so that naming a number never tells whether it belongs to a
/// resident. Naming oneself is refused.
pub async fn name_collector<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    pii: &PiiCipher,
    caller: UserId,
    order: &order::Model,
    phone: &PhoneNumber,
) -> ApiResult<()> {
    let found = user::Entity::find()
        .filter(user::Column::PhoneHash.eq(phone.lookup_hash(pii)))
        .one(db)
        .await?;
    if found.as_ref().is_some_and(|u| u.id == caller) {
        return Err(ApiError::invalid_field("phone", "that is you"));
    }
    let now = clock::now();
    let mut neighbour = None;
    if let Some(u) = found {
        let verified = household_member::Entity::find()
            .filter(household_member::Column::UserId.eq(u.id))
            .filter(household_member::Column::CommunityId.eq(order.community_id))
            .all(db)
            .await?
            .iter()
            .any(|m| m.is_active(now));
        if verified {
            neighbour = Some(u.id);
        }
    }
    let txn = begin_write(db).await?;
    delegate(&txn, settings, pii, order, neighbour).await?;
    txn.commit().await?;
    Ok(())
}

/// Names `neighbour` to collect the order: revokes an earlier collector's
/// code, issues theirs and tells them. `None` (the number named is not a
/// verified resident's) only revokes.
pub async fn delegate<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    pii: &PiiCipher,
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
    let code = issue_code(db, pii, order, neighbour, true).await?;
    crate::outbox::service::notify(
        db,
        settings,
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
    pii: &PiiCipher,
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
        let plain = pii.decrypt(&c.code_enc)?;
        out.push((c, plain));
    }
    Ok(out)
}

/// Verifies a code at a point (核销): the code is used, the order completed,
/// its other codes revoked. A second verification of the same code is
/// refused with `pickup_code_used`.
pub async fn verify<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    pii: &PiiCipher,
    point: PickupPointId,
    code: &str,
    staff: UserId,
) -> ApiResult<(order::Model, pickup_code::Model)> {
    let code = code.trim();
    if code.len() != CODE_DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field("code", "a pickup code is 8 digits"));
    }
    let hash = code_hash(pii, point, code);
    let txn = begin_write(db).await?;
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
    db::guarded(
        &txn,
        pickup_code::Entity::update_many()
            .set(pickup_code::ActiveModel {
                status: Set(PickupCodeStatus::Used),
                used_at: Set(Some(now)),
                used_by: Set(Some(staff)),
                ..Default::default()
            })
            .filter(pickup_code::Column::Id.eq(found.id))
            .filter(pickup_code::Column::Status.eq(PickupCodeStatus::Active)),
        ApiError::new(ErrorCode::PickupCodeUsed, "this code was already used"),
    )
    .await?;
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
        settings,
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

/// One page of the orders waiting at the community's `point`, longest
/// first, with when they arrived and when their resident was last reminded.
pub async fn uncollected<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    point: PickupPointId,
    page: PageRequest,
) -> ApiResult<Page<Uncollected>> {
    let select = order::Entity::find()
        .filter(order::Column::CommunityId.eq(community))
        .filter(order::Column::PickupPointId.eq(point))
        .filter(order::Column::Status.eq(OrderStatus::ReadyForPickup));
    let page = page
        .fetch(select, order::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    let meta: Vec<_> = page
        .items
        .iter()
        .map(|o| (o.fulfilled_at, o.pickup_reminded_at))
        .collect();
    let orders = crate::orders::service::with_lines(db, page.items).await?;
    Ok(Page {
        items: orders
            .into_iter()
            .zip(meta)
            .map(|(order, (ready_since, last_reminded_at))| Uncollected {
                order,
                ready_since,
                last_reminded_at,
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}
