//! Submitting an order, in one short transaction: a catalog order's lines
//! are priced and checked against the merchant's shelf in it, then the
//! order, its snapshot lines and its first event are written, the
//! per-household quota next, and the hot stock rows last (guarded updates,
//! `stock >= n`), so their row locks are held for as little time as
//! possible. A replayed `Idempotency-Key` answers with the order it made.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    ClientKind, CommunityId, Fen, Fulfilment, GroupBuyId, GroupBuyItemId, HouseholdId, MerchantId,
    OrderId, OrderLineId, OrderStatus, PickupPointId, ProductId, UserId, category, order,
    order_line, product,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionSession,
    TransactionTrait,
};
use sha2::Digest;

use super::receiving::resolve_receiving;
use super::{Actor, log_event};
use crate::config::Settings;
use crate::kernel::clock;
use crate::kernel::db::{self, begin_write, is_unique_violation};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::orders::views::{NewCatalogOrder, check_quantity};

/// Where an order came from: the client's address, agent and kind.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub kind: ClientKind,
}

impl ClientInfo {
    /// The client as its request describes it: `declared` is its
    /// `X-Client-Kind` (`mini_program`, `h5`, `backoffice`); without one the
    /// kind is guessed from the user agent (WeChat's mini-program and in-app
    /// browser mark theirs).
    pub fn new(ip: String, user_agent: &str, declared: Option<&str>) -> Self {
        let user_agent: String = user_agent.chars().take(256).collect();
        let declared =
            declared.and_then(|v| serde_json::from_value::<ClientKind>(v.trim().into()).ok());
        let kind = declared.unwrap_or(if user_agent.contains("miniProgram") {
            ClientKind::MiniProgram
        } else if user_agent.contains("MicroMessenger") {
            ClientKind::H5
        } else {
            ClientKind::Other
        });
        Self {
            ip,
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
    /// Checks the key (1–64 visible ASCII characters) and fingerprints the
    /// request: its path and parsed body. `key` is the header if one was
    /// sent, `Some(None)` when it was not text.
    pub fn parse(
        key: Option<Option<&str>>,
        path: &str,
        body: &serde_json::Value,
    ) -> ApiResult<Option<Self>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let key = key
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 64 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "Idempotency-Key",
                    "1 to 64 visible ASCII characters (a UUID is ideal)",
                )
            })?;
        let mut hasher = sha2::Sha256::new();
        hasher.update(path.as_bytes());
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

/// Everything an order is made of, priced by the server.
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

/// A catalog order as the resident asked for it, for the household it is
/// for: [`submit_catalog`] prices it.
pub struct CatalogOrder {
    pub community_id: CommunityId,
    pub user_id: UserId,
    pub household_id: HouseholdId,
    pub request: NewCatalogOrder,
    pub client: ClientInfo,
    pub idempotency: Option<Idempotency>,
}

/// The outcome of a submission.
pub struct Submitted {
    pub order: order::Model,
    /// The order's lines, in the order they were written.
    pub lines: Vec<order_line::Model>,
    /// `true` when the `Idempotency-Key` named an order made earlier.
    pub replayed: bool,
}

/// Submits a catalog order: in one transaction, checks that the merchant
/// sells here, prices the lines from the merchant's shelf (products on it,
/// in categories shown), checks how it is to be received, then writes it
/// as [`submit`] does.
pub async fn submit_catalog<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    order: CatalogOrder,
) -> ApiResult<Submitted> {
    let (user, idempotency) = (order.user_id, order.idempotency.clone());
    let txn = begin_write(db).await?;
    let outcome = match price_catalog(&txn, settings, order).await {
        Ok(new) => write(&txn, &new).await,
        Err(e) => Err(Refusal::Api(e)),
    };
    settle(db, txn, user, idempotency.as_ref(), outcome).await
}

/// The catalog order priced by the server, in the submit transaction.
async fn price_catalog<C: ConnectionTrait>(
    txn: &C,
    settings: &Settings,
    order: CatalogOrder,
) -> ApiResult<NewOrder> {
    let request = order.request;
    crate::merchant::service::ensure_selling(txn, request.merchant_id, order.community_id).await?;
    if request.lines.is_empty() || request.lines.len() > 50 {
        return Err(ApiError::invalid_field("lines", "1 to 50 lines"));
    }
    let ids: Vec<ProductId> = request.lines.iter().map(|l| l.product_id).collect();
    let products: HashMap<ProductId, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(ids.clone()))
        .filter(product::Column::MerchantId.eq(request.merchant_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let hidden: Vec<entity::CategoryId> = category::Entity::find()
        .filter(category::Column::Active.eq(false))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut lines = Vec::new();
    for (i, l) in request.lines.iter().enumerate() {
        check_quantity(l.quantity)?;
        if ids[..i].contains(&l.product_id) {
            return Err(ApiError::invalid_field("lines", "list each product once"));
        }
        let p = products
            .get(&l.product_id)
            .filter(|p| p.on_shelf && !hidden.contains(&p.category_id))
            .ok_or_else(|| {
                ApiError::invalid_field("product_id", "not on this merchant's shelf")
                    .with_details(serde_json::json!({ "product_id": l.product_id }))
            })?;
        lines.push(LineSpec {
            product_id: Some(p.id),
            item_id: None,
            title: p.title.clone(),
            unit: p.unit.clone(),
            unit_price: p.price,
            quantity: l.quantity,
            product_stock: p.stock.is_some(),
            per_household_limit: None,
        });
    }
    let reception = resolve_receiving(
        txn,
        order.community_id,
        order.household_id,
        &request.receiving,
        None,
        true,
    )
    .await?;
    let timeout = chrono::Duration::minutes(i64::from(settings.payment.unpaid_timeout_mins));
    Ok(NewOrder {
        community_id: order.community_id,
        merchant_id: Some(request.merchant_id),
        group_buy_id: None,
        user_id: order.user_id,
        household_id: order.household_id,
        lines,
        fulfilment: request.receiving.fulfilment,
        pickup_point_id: reception.pickup_point_id,
        address: reception.address,
        address_remark: reception.address_remark,
        delivery_time: reception.delivery_time,
        intro: None,
        client: order.client,
        idempotency: order.idempotency,
        payment_deadline: clock::now() + timeout,
    })
}

/// Submits an order priced by the caller (a group buy's items): reserves
/// stock and quota, writes the order, its lines and its first event, all or
/// nothing.
pub async fn submit<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    new: NewOrder,
) -> ApiResult<Submitted> {
    let txn = begin_write(db).await?;
    let outcome = write(&txn, &new).await;
    settle(db, txn, new.user_id, new.idempotency.as_ref(), outcome).await
}

/// Commits a submission, or rolls it back. The same key submitted at the
/// same moment loses the race on the key's unique index: the other request
/// made the order, and it is the answer.
async fn settle<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    txn: C::Transaction,
    user: UserId,
    idempotency: Option<&Idempotency>,
    outcome: Result<Submitted, Refusal>,
) -> ApiResult<Submitted> {
    match outcome {
        Ok(submitted) => {
            txn.commit().await?;
            Ok(submitted)
        }
        Err(Refusal::Api(e)) => {
            txn.rollback().await?;
            Err(e)
        }
        Err(Refusal::Db(e)) if is_unique_violation(&e) && idempotency.is_some() => {
            txn.rollback().await?;
            let found = match idempotency {
                Some(idem) => replay(db, user, idem).await?,
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
async fn replayed<C: ConnectionTrait>(db: &C, order: order::Model) -> ApiResult<Submitted> {
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

/// The order an `Idempotency-Key` of the user made, if any; the key reused
/// for another request is refused.
async fn replay<C: ConnectionTrait>(
    db: &C,
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

/// The submission's work in its transaction: the order a replayed key
/// made, or the new order written.
async fn write<C: ConnectionTrait>(txn: &C, new: &NewOrder) -> Result<Submitted, Refusal> {
    if let Some(idem) = &new.idempotency
        && let Some(order) = replay(txn, new.user_id, idem).await?
    {
        return Ok(replayed(txn, order).await?);
    }
    let too_large = || ApiError::invalid_field("quantity", "the amount is too large");
    let mut amounts = Vec::with_capacity(new.lines.len());
    let mut amount = Fen::ZERO;
    for line in &new.lines {
        let line_amount = line.unit_price.times(line.quantity).ok_or_else(too_large)?;
        amount = amount.checked_add(line_amount).ok_or_else(too_large)?;
        amounts.push(line_amount);
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
    let mut lines = Vec::with_capacity(new.lines.len());
    for (l, amount) in new.lines.iter().zip(amounts) {
        lines.push(order_line::Model {
            id: OrderLineId::new(),
            order_id: id,
            product_id: l.product_id,
            group_buy_item_id: l.item_id,
            title: l.title.clone(),
            unit: l.unit.clone(),
            unit_price: l.unit_price,
            quantity: i32::try_from(l.quantity).map_err(|_| {
                ApiError::internal(anyhow::anyhow!("a line of {} items", l.quantity))
            })?,
            amount,
        });
    }
    write_submission(txn, &model, &lines, new).await?;
    Ok(Submitted {
        order: model,
        lines,
        replayed: false,
    })
}

async fn write_submission<C: ConnectionTrait>(
    txn: &C,
    model: &order::Model,
    lines: &[order_line::Model],
    new: &NewOrder,
) -> Result<(), Refusal> {
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
                && db::execute(
                    txn,
                    "INSERT INTO group_buy_quotas (item_id, household_id, quantity) VALUES ($1, $2, $3) \
                     ON CONFLICT (item_id, household_id) DO UPDATE \
                     SET quantity = group_buy_quotas.quantity + excluded.quantity \
                     WHERE group_buy_quotas.quantity + excluded.quantity <= $4",
                    [
                        item.as_uuid().into(),
                        new.household_id.as_uuid().into(),
                        quantity.into(),
                        limit.into(),
                    ],
                )
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
            let done = db::execute(txn, statement, [quantity.into(), id.into()])
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
