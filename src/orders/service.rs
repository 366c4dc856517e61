//! Submitting orders, moving them through their state machine, paying them.
//!
//! - [`submit`] reserves stock with guarded updates (`stock >= n`) in one
//!   short transaction: the order, its snapshot lines and its first event
//!   are written first, the per-household quota next, and the hot stock rows
//!   last, so their row locks are held for as little time as possible.
//! - [`advance`] is the only way an order changes status: it checks
//!   [`OrderStatus::may_become`], applies the move with a conditional update
//!   (`WHERE status = <from>`), logs it, releases stock when the move lets go
//!   of it, and queues the resident's notification. A move that lets go of
//!   paid money is the orders flow's (`flows/orders.rs`): it refunds too.
//! - Payments are applied by the payments flow (`flows/payments.rs`).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};
use entity::{
    ActorRole, ClientKind, CommunityId, CourierId, Fen, Fulfilment, GroupBuyId, GroupBuyItemId,
    HouseholdId, MerchantId, OrderEventId, OrderId, OrderLineId, OrderStatus, PaymentMethod,
    PickupPointId, ProductId, UserId, group_buy, order, order_event, order_line,
};
use sea_orm::ActiveModelTrait;
use sea_orm::{
    ActiveValue::NotSet, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use sha2::Digest;

use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{begin_write, is_unique_violation, sql};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};

/// Who moves an order, in what capacity.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub user: Option<UserId>,
    pub role: ActorRole,
}

impl Actor {
    pub const SYSTEM: Actor = Actor {
        user: None,
        role: ActorRole::System,
    };

    pub fn resident(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Resident,
        }
    }

    pub fn merchant(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Merchant,
        }
    }

    pub fn staff(user: UserId) -> Self {
        Self {
            user: Some(user),
            role: ActorRole::Staff,
        }
    }

    /// Whether this actor sells (merchant staff, or property staff for the
    /// property's own group buys): their moves stamp `processed_at/by`.
    fn is_seller(&self) -> bool {
        matches!(self.role, ActorRole::Merchant | ActorRole::Staff)
    }
}

/// Where an order came from: the client's address, agent and kind.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub kind: ClientKind,
}

impl ClientInfo {
    /// Reads the client from the request: `X-Client-Kind` (`mini_program`,
    /// `h5`, `backoffice`) when the client says, else guessed from the user
    /// agent (WeChat's mini-program and in-app browser mark theirs).
    pub fn from_request(req: &HttpRequest, settings: &Settings) -> Self {
        let user_agent: String = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(256)
            .collect();
        let declared = req
            .headers()
            .get("x-client-kind")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| serde_json::from_value::<ClientKind>(v.trim().into()).ok());
        let kind = declared.unwrap_or(if user_agent.contains("miniProgram") {
            ClientKind::MiniProgram
        } else if user_agent.contains("MicroMessenger") {
            ClientKind::H5
        } else {
            ClientKind::Other
        });
        Self {
            ip: crate::kernel::http::client_ip(req, settings.server.trust_forwarded_for),
            user_agent,
            kind,
        }
    }
}

/// An `Idempotency-Key` and the fingerprint of the request that carried it.
#[derive(Clone, Debug)]
pub struct Idempotency {
    pub key: String,
    pub hash: String,
}

impl Idempotency {
    /// Reads the header (1–64 visible ASCII characters) and fingerprints the
    /// request: the path and the parsed body.
    pub fn from_request(req: &HttpRequest, body: &serde_json::Value) -> ApiResult<Option<Self>> {
        let Some(value) = req.headers().get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "Idempotency-Key",
                    "1 to 64 visible ASCII characters (a UUID is ideal)",
                )
            })?;
        let mut hasher = sha2::Sha256::new();
        hasher.update(req.path().as_bytes());
        hasher.update([0]);
        hasher.update(body.to_string().as_bytes());
        Ok(Some(Self {
            key: key.to_owned(),
            hash: hex::encode(hasher.finalize()),
        }))
    }
}

/// One line to order, priced by the server.
#[derive(Clone, Debug)]
pub struct LineSpec {
    pub product_id: Option<ProductId>,
    pub item_id: Option<GroupBuyItemId>,
    pub title: String,
    pub unit: String,
    pub unit_price: Fen,
    pub quantity: u32,
    /// Lower the product's stock (goods), not for services.
    pub product_stock: bool,
    /// The group buy's per-household limit for this item.
    pub per_household_limit: Option<i32>,
}

/// Everything an order is made of; the routes build it from the request
/// and the server's own prices.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub community_id: CommunityId,
    pub merchant_id: Option<MerchantId>,
    pub group_buy_id: Option<GroupBuyId>,
    pub user_id: UserId,
    pub household_id: HouseholdId,
    pub lines: Vec<LineSpec>,
    pub fulfilment: Fulfilment,
    pub pickup_point_id: Option<PickupPointId>,
    pub address: String,
    pub address_remark: Option<String>,
    pub delivery_time: Option<DateTime<Utc>>,
    pub intro: Option<String>,
    pub client: ClientInfo,
    pub idempotency: Option<Idempotency>,
    pub payment_deadline: DateTime<Utc>,
}

/// The outcome of a submission.
pub struct Submitted {
    pub order: order::Model,
    /// The order's lines, in the order they were written.
    pub lines: Vec<order_line::Model>,
    /// `true` when the `Idempotency-Key` named an order made earlier.
    pub replayed: bool,
}

/// A fresh order number: the UTC date and 12 random digits (20 characters,
/// fit for WeChat Pay's `out_trade_no`).
fn order_no(now: DateTime<Utc>) -> String {
    format!(
        "{}{:012}",
        now.format("%Y%m%d"),
        rand::random_range(0..1_000_000_000_000u64)
    )
}

/// A replayed submission: the order made earlier, with its lines.
async fn replayed(db: &DatabaseConnection, order: order::Model) -> ApiResult<Submitted> {
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order.id))
        .order_by_asc(order_line::Column::Id)
        .all(db)
        .await?;
    Ok(Submitted {
        order,
        lines,
        replayed: true,
    })
}

async fn replay(
    db: &DatabaseConnection,
    user: UserId,
    idem: &Idempotency,
) -> ApiResult<Option<order::Model>> {
    let Some(existing) = order::Entity::find()
        .filter(order::Column::UserId.eq(user))
        .filter(order::Column::IdempotencyKey.eq(idem.key.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if existing.request_hash.as_deref() != Some(idem.hash.as_str()) {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used for a different request; use a new key for a new order",
        ));
    }
    Ok(Some(existing))
}

/// Submits an order: reserves stock and quota, writes the order, its lines
/// and its first event, all or nothing. A replayed `Idempotency-Key`
/// returns the order it made.
pub async fn submit(db: &DatabaseConnection, new: NewOrder) -> ApiResult<Submitted> {
    if let Some(idem) = &new.idempotency
        && let Some(order) = replay(db, new.user_id, idem).await?
    {
        return replayed(db, order).await;
    }
    let mut amount = Fen::ZERO;
    for line in &new.lines {
        amount = line
            .unit_price
            .times(line.quantity)
            .and_then(|a| amount.checked_add(a))
            .ok_or_else(|| ApiError::invalid_field("quantity", "the amount is too large"))?;
    }
    let now = clock::now();
    let id = OrderId::new();
    let model = order::Model {
        id,
        order_no: order_no(now),
        community_id: new.community_id,
        merchant_id: new.merchant_id,
        group_buy_id: new.group_buy_id,
        user_id: new.user_id,
        household_id: new.household_id,
        status: OrderStatus::PendingPayment,
        amount,
        payment_method: None,
        paid_at: None,
        payment_deadline: new.payment_deadline,
        fulfilment: new.fulfilment,
        pickup_point_id: new.pickup_point_id,
        pickup_slot_id: None,
        pickup_reminded_at: None,
        slot_reminded_at: None,
        address: new.address.clone(),
        address_remark: new.address_remark.clone(),
        delivery_time: new.delivery_time,
        courier_id: None,
        processed_at: None,
        processed_by: None,
        status_reason: None,
        intro: new.intro.clone(),
        client_ip: new.client.ip.clone(),
        user_agent: new.client.user_agent.clone(),
        client_kind: new.client.kind,
        idempotency_key: new.idempotency.as_ref().map(|i| i.key.clone()),
        request_hash: new.idempotency.as_ref().map(|i| i.hash.clone()),
        fulfilled_at: None,
        confirmed_at: None,
        prepaid_at: None,
        pay_checked_at: None,
        pay_closed_at: None,
        created_at: now,
        updated_at: now,
    };
    let lines: Vec<order_line::Model> = new
        .lines
        .iter()
        .map(|l| order_line::Model {
            id: OrderLineId::new(),
            order_id: id,
            product_id: l.product_id,
            group_buy_item_id: l.item_id,
            title: l.title.clone(),
            unit: l.unit.clone(),
            unit_price: l.unit_price,
            quantity: i32::try_from(l.quantity).unwrap_or(i32::MAX),
            amount: l.unit_price.times(l.quantity).unwrap_or(Fen::ZERO),
        })
        .collect();
    let txn = begin_write(db).await?;
    match write_submission(&txn, &model, &lines, &new).await {
        Ok(()) => {
            txn.commit().await?;
            Ok(Submitted {
                order: model,
                lines,
                replayed: false,
            })
        }
        Err(Refusal::Api(e)) => {
            txn.rollback().await?;
            Err(e)
        }
        Err(Refusal::Db(e)) if is_unique_violation(&e) && new.idempotency.is_some() => {
            // The same key, submitted at the same moment: the other request
            // made the order.
            txn.rollback().await?;
            let found = match &new.idempotency {
                Some(idem) => replay(db, new.user_id, idem).await?,
                None => None,
            };
            match found {
                Some(order) => replayed(db, order).await,
                None => Err(e.into()),
            }
        }
        Err(Refusal::Db(e)) => {
            txn.rollback().await?;
            Err(e.into())
        }
    }
}

enum Refusal {
    Api(ApiError),
    Db(sea_orm::DbErr),
}

impl From<sea_orm::DbErr> for Refusal {
    fn from(e: sea_orm::DbErr) -> Self {
        Refusal::Db(e)
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

async fn write_submission<C: ConnectionTrait>(
    txn: &C,
    model: &order::Model,
    lines: &[order_line::Model],
    new: &NewOrder,
) -> Result<(), Refusal> {
    let backend = txn.get_database_backend();
    order::Entity::insert(order::ActiveModel::from(model.clone()))
        .exec_without_returning(txn)
        .await?;
    order_line::Entity::insert_many(lines.iter().cloned().map(order_line::ActiveModel::from))
        .exec_without_returning(txn)
        .await?;
    log_event(
        txn,
        model.id,
        Actor::resident(model.user_id),
        None,
        OrderStatus::PendingPayment,
        None,
        model.created_at,
    )
    .await?;
    for line in &new.lines {
        let quantity = i64::from(line.quantity);
        if let (Some(item), Some(limit)) = (line.item_id, line.per_household_limit) {
            let limit = i64::from(limit);
            let within = quantity <= limit
                && txn
                    .execute_raw(Statement::from_sql_and_values(
                        backend,
                        sql(
                            backend,
                            "INSERT INTO group_buy_quotas (item_id, household_id, quantity) VALUES ($1, $2, $3) \
                             ON CONFLICT (item_id, household_id) DO UPDATE \
                             SET quantity = group_buy_quotas.quantity + excluded.quantity \
                             WHERE group_buy_quotas.quantity + excluded.quantity <= $4",
                        ),
                        [
                            item.as_uuid().into(),
                            new.household_id.as_uuid().into(),
                            quantity.into(),
                            limit.into(),
                        ],
                    ))
                    .await?
                    .rows_affected()
                    == 1;
            if !within {
                return Err(ApiError::new(
                    ErrorCode::HouseholdLimitExceeded,
                    format!("「{}」 is limited to {limit} per household", line.title),
                )
                .with_details(serde_json::json!({ "item_id": item, "limit": limit }))
                .into());
            }
        }
    }
    // The hot rows last: their locks are held only until the commit.
    for line in &new.lines {
        let quantity = i64::from(line.quantity);
        let taken = if let Some(item) = line.item_id {
            Some((
                "UPDATE group_buy_items SET stock = stock - $1 WHERE id = $2 AND stock >= $1",
                item.as_uuid(),
                serde_json::json!({ "item_id": item }),
            ))
        } else if let (Some(product), true) = (line.product_id, line.product_stock) {
            Some((
                "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1",
                product.as_uuid(),
                serde_json::json!({ "product_id": product }),
            ))
        } else {
            None
        };
        if let Some((statement, id, details)) = taken {
            let done = txn
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    sql(backend, statement),
                    [quantity.into(), id.into()],
                ))
                .await?
                .rows_affected();
            if done != 1 {
                return Err(ApiError::new(
                    ErrorCode::SoldOut,
                    format!("「{}」 has fewer than {quantity} left", line.title),
                )
                .with_details(details)
                .into());
            }
        }
    }
    Ok(())
}

/// Appends one entry to an order's event log.
pub async fn log_event<C: ConnectionTrait>(
    db: &C,
    order: OrderId,
    actor: Actor,
    from: Option<OrderStatus>,
    to: OrderStatus,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    order_event::Entity::insert(order_event::ActiveModel {
        id: Set(OrderEventId::new()),
        order_id: Set(order),
        actor_id: Set(actor.user),
        actor_role: Set(actor.role),
        from_status: Set(from),
        to_status: Set(to),
        reason: Set(reason.map(|r| r.chars().take(200).collect())),
        created_at: Set(at),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Extra columns a move sets besides the status.
#[derive(Default, Debug)]
pub struct MoveDetails {
    pub reason: Option<String>,
    pub courier_id: Option<CourierId>,
    pub payment_method: Option<PaymentMethod>,
    /// When the provider took the money (with a move to `paid`; now when
    /// absent).
    pub paid_at: Option<DateTime<Utc>>,
    /// Where a refund this move causes goes.
    pub refund_to: entity::RefundTo,
}

/// Moves `order` to `to` on behalf of `actor`: the conditional update, the
/// event, the stock it lets go of, the resident's message. Runs in the
/// caller's transaction. Returns the order as it now is.
///
/// A move that lets go of paid money (to `rejected`, `cancelled`,
/// `refunded`, …) is refused here: the orders flow makes it, so that the
/// refund and the end of any dispute happen with it.
pub async fn advance<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    to: OrderStatus,
    actor: Actor,
    details: MoveDetails,
) -> ApiResult<order::Model> {
    if order.status.may_become(to) && order.status.is_paid() && !to.is_paid() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "order {} moves from {} to {to}, letting go of its money, outside the orders flow",
            order.id,
            order.status
        )));
    }
    let next = move_order(db, order, to, actor, &details).await?;
    announce(db, settings, order, to, &details).await?;
    Ok(next)
}

/// The move itself, without the resident's message ([`announce`]): the
/// orders flow refunds in between when the move lets go of paid money.
pub async fn move_order<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    to: OrderStatus,
    actor: Actor,
    details: &MoveDetails,
) -> ApiResult<order::Model> {
    let from = order.status;
    if !from.may_become(to) {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            format!("an order that is {from} cannot become {to}"),
        )
        .with_details(serde_json::json!({ "status": from, "requested": to })));
    }
    let now = clock::now();
    let mut next = order.clone();
    next.status = to;
    next.updated_at = now;
    if actor.is_seller() {
        next.processed_at = Some(now);
        next.processed_by = actor.user;
    }
    if let Some(reason) = &details.reason {
        next.status_reason = Some(reason.clone());
    }
    if let Some(courier) = details.courier_id {
        next.courier_id = Some(courier);
    }
    match to {
        OrderStatus::Paid => {
            next.paid_at = Some(details.paid_at.unwrap_or(now));
            next.payment_method = details.payment_method;
        }
        OrderStatus::Dispatched | OrderStatus::Delivered | OrderStatus::ReadyForPickup => {
            next.fulfilled_at = Some(now)
        }
        OrderStatus::Completed => next.confirmed_at = Some(now),
        _ => {}
    }
    // Every column is written (`reset_all`): the row is exactly `next`
    // (but for the payment reconciliation's own columns).
    let mut changes = order::ActiveModel::from(next.clone()).reset_all();
    changes.id = NotSet;
    // The reconciliation job's columns move on their own.
    changes.prepaid_at = NotSet;
    changes.pay_checked_at = NotSet;
    changes.pay_closed_at = NotSet;
    // Only the move to `paid` records the payment: another move must not
    // write back a payment recorded meanwhile (a late one being refunded).
    if to != OrderStatus::Paid {
        changes.paid_at = NotSet;
        changes.payment_method = NotSet;
    }
    let moved = order::Entity::update_many()
        .set(changes)
        .filter(order::Column::Id.eq(order.id))
        .filter(order::Column::Status.eq(from))
        .exec(db)
        .await?
        .rows_affected;
    if moved != 1 {
        return Err(ApiError::new(
            ErrorCode::InvalidTransition,
            "the order changed meanwhile; reload it and try again",
        ));
    }
    log_event(
        db,
        order.id,
        actor,
        Some(from),
        to,
        details.reason.as_deref(),
        now,
    )
    .await?;
    crate::settlement::order_moved(db, &next, from).await?;
    // Goods that left the seller (a dispute refunding a delivered order)
    // do not go back on the shelf.
    if from.holds_stock() && !to.holds_stock() && order.fulfilled_at.is_none() {
        release_stock(db, order).await?;
    }
    Ok(next)
}

/// Queues the resident's message about a move made.
pub async fn announce<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    order: &order::Model,
    to: OrderStatus,
    details: &MoveDetails,
) -> ApiResult<()> {
    let message = match to {
        OrderStatus::Paid => Some(("order_paid", vec![("amount", order.amount.yuan())])),
        OrderStatus::Accepted => Some(("order_accepted", vec![])),
        OrderStatus::Rejected => Some((
            "order_rejected",
            vec![("reason", details.reason.clone().unwrap_or_default())],
        )),
        OrderStatus::Dispatched => Some(("delivery_update", vec![("status", "已发货".to_owned())])),
        OrderStatus::Delivered => Some(("delivery_update", vec![("status", "已送达".to_owned())])),
        _ => None,
    };
    if let Some((kind, mut params)) = message {
        params.push(("order_no", order.order_no.clone()));
        crate::outbox::notify(db, settings, order.user_id, kind, &params).await?;
    }
    Ok(())
}

/// Gives back what a live order held: group-buy stock and quota, or the
/// product's stock.
async fn release_stock<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<()> {
    let backend = db.get_database_backend();
    let lines = order_line::Entity::find()
        .filter(order_line::Column::OrderId.eq(order.id))
        .all(db)
        .await?;
    for line in lines {
        let quantity = i64::from(line.quantity);
        if let Some(item) = line.group_buy_item_id {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "UPDATE group_buy_items SET stock = stock + $1 WHERE id = $2",
                ),
                [quantity.into(), item.as_uuid().into()],
            ))
            .await?;
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "UPDATE group_buy_quotas SET quantity = quantity - $1 \
                     WHERE item_id = $2 AND household_id = $3 AND quantity >= $1",
                ),
                [
                    quantity.into(),
                    item.as_uuid().into(),
                    order.household_id.as_uuid().into(),
                ],
            ))
            .await?;
        } else if let Some(product) = line.product_id {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                sql(
                    backend,
                    "UPDATE products SET stock = stock + $1 WHERE id = $2 AND stock IS NOT NULL",
                ),
                [quantity.into(), product.as_uuid().into()],
            ))
            .await?;
        }
    }
    Ok(())
}

/// The statuses in which money is held, for SQL `IN (…)` lists.
pub fn paid_statuses() -> Vec<&'static str> {
    OrderStatus::PAID.iter().map(|s| s.as_str()).collect()
}

/// Distinct households holding a paid order in the group buy (成团人数).
pub async fn paying_households<C: ConnectionTrait>(db: &C, group: GroupBuyId) -> ApiResult<i64> {
    let backend = db.get_database_backend();
    let placeholders: Vec<String> = (0..OrderStatus::PAID.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let mut values: Vec<sea_orm::Value> = vec![group.as_uuid().into()];
    values.extend(paid_statuses().into_iter().map(Into::into));
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                &format!(
                    "SELECT COUNT(DISTINCT household_id) AS n FROM orders \
                     WHERE group_buy_id = $1 AND status IN ({})",
                    placeholders.join(", ")
                ),
            ),
            values,
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Refuses a payment before any provider is asked when the order's group
/// buy no longer takes orders (paused, closed, failed…) or its merchant may
/// not sell in the community now. The payments flow checks both again when the
/// money arrives.
pub async fn ensure_payable<C: ConnectionTrait>(db: &C, order: &order::Model) -> ApiResult<()> {
    if let Some(merchant) = order.merchant_id {
        crate::merchant::service::ensure_selling(db, merchant, order.community_id).await?;
    }
    if let Some(g) = order.group_buy_id {
        let group = group_buy::Entity::find_by_id(g)
            .one(db)
            .await?
            .ok_or_else(ApiError::not_found)?;
        if !group.status.takes_orders() {
            return Err(ApiError::new(
                ErrorCode::GroupBuyNotOpen,
                format!("the group buy is {}", group.status),
            ));
        }
    }
    Ok(())
}

/// Refuses a courier who may not carry `order`: only the seller's own
/// couriers (the merchant's, or for the property's own sales the
/// community's property couriers), active and with a pass valid now. Another
/// seller's courier is refused exactly like an unknown one.
pub async fn ensure_courier_may_carry<C: ConnectionTrait>(
    db: &C,
    order: &order::Model,
    courier: CourierId,
) -> ApiResult<()> {
    let found = entity::courier::Entity::find_by_id(courier)
        .one(db)
        .await?
        .filter(|c| match order.merchant_id {
            Some(m) => {
                c.employer_kind == entity::EmployerKind::Merchant && c.merchant_id == Some(m)
            }
            None => {
                c.employer_kind == entity::EmployerKind::Property
                    && c.community_id == Some(order.community_id)
            }
        })
        .ok_or_else(|| ApiError::invalid_field("courier_id", "not one of your couriers"))?;
    if !found.may_pass(clock::now()) {
        return Err(ApiError::new(
            ErrorCode::CourierUnavailable,
            "this courier is suspended or their pass has expired; renew it or choose another",
        )
        .with_details(serde_json::json!({
            "courier_id": courier,
            "status": found.status,
            "pass_valid_until": found.pass_valid_until,
        })));
    }
    Ok(())
}

/// Why a payment the payments flow refused cannot be kept, for the refusals
/// that mean the order no longer takes money (`None` for any other error).
/// A provider that already took the money gives it straight back
/// (the payments flow's late payment); an `invalid_transition` may also be
/// another copy of the notification that applied it just now.
pub fn refused_payment(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::InvalidTransition => Some("paid after the order had closed; refunded"),
        ErrorCode::PaymentDeadlinePassed => Some("paid after the payment deadline; refunded"),
        ErrorCode::GroupBuyNotOpen => Some("the group buy no longer takes orders; refunded"),
        ErrorCode::MerchantNotSelling => Some("the merchant may not sell here now; refunded"),
        _ => None,
    }
}

/// Orders of a group buy in one of `statuses`, oldest first (for cascades).
pub async fn orders_of_group<C: ConnectionTrait>(
    db: &C,
    group: GroupBuyId,
    statuses: &[OrderStatus],
    limit: Option<u64>,
) -> ApiResult<Vec<order::Model>> {
    let mut select = order::Entity::find()
        .filter(order::Column::GroupBuyId.eq(group))
        .filter(order::Column::Status.is_in(statuses.iter().copied()))
        .order_by_asc(order::Column::Id);
    if let Some(n) = limit {
        select = select.limit(n);
    }
    Ok(select.all(db).await?)
}
