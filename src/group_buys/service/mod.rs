//! Group buys' rules: who sees which, organising one from a checked
//! [`Plan`], its status moves ([`moves`]) and joining it ([`join`]).
//!
//! What a move does to the group buy's orders (fulfilling accepts them,
//! ready puts them at the pickup point, called off refunds them) is the
//! group-buys flow's (`flows/group_buys.rs`): this capability reads orders
//! and submits them, but never moves one, since an order's payment moves
//! the group buy (the payments flow calls [`succeed`]).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    CommunityId, GroupBuyId, GroupBuyStatus, HouseholdId, MerchantId, OrganiserKind, ProductId,
    UserId, group_buy, group_buy_item, group_buy_pickup_point, pickup_point, product, user,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};

use super::views::{
    GroupBuy, GroupBuyChanges, GroupBuyDetail, Introduction, Known, NewGroupBuy, Plan,
    ProductDefaults,
};
use crate::kernel::clock;
use crate::kernel::db::{begin_write, guarded};
use crate::kernel::error::{ApiError, ApiResult, ErrorCode};
use crate::kernel::http::{Page, PageRequest};
use crate::orders::service::{orders_of_group, paying_households};

pub mod join;
pub mod moves;

pub use join::{JoinOrder, Joining, join, joining};
pub use moves::{
    check_merchant_move, check_property_move, move_group, pause_merchant, refuse_late_opening,
    resume, succeed, sweep_deadlines,
};

/// Who looks at a community's group buys: its staff see drafts too.
#[derive(Clone, Copy, Debug)]
pub struct Viewer {
    pub community: CommunityId,
    /// Holds a staff role here, or is an operator admin.
    pub staff: bool,
}

/// The answer for `g`: with its items, pickup points and paying households.
pub async fn view<C: ConnectionTrait>(db: &C, g: group_buy::Model) -> ApiResult<GroupBuy> {
    let items = items_of(db, g.id).await?;
    let points = points_of(db, g.id).await?;
    let joined = paying_households(db, g.id).await?;
    Ok(GroupBuy::new(g, items, points, joined))
}

async fn page_of(
    db: &DatabaseConnection,
    page: Page<group_buy::Model>,
) -> ApiResult<Page<GroupBuy>> {
    let mut items = Vec::with_capacity(page.items.len());
    for g in page.items {
        items.push(view(db, g).await?);
    }
    Ok(Page {
        items,
        next_cursor: page.next_cursor,
    })
}

/// The group buy's items, in their order.
async fn items_of<C: ConnectionTrait>(
    db: &C,
    group: GroupBuyId,
) -> ApiResult<Vec<group_buy_item::Model>> {
    Ok(group_buy_item::Entity::find()
        .filter(group_buy_item::Column::GroupBuyId.eq(group))
        .order_by_asc(group_buy_item::Column::SortOrder)
        .order_by_asc(group_buy_item::Column::Id)
        .all(db)
        .await?)
}

/// Where the group buy can be collected.
async fn points_of<C: ConnectionTrait>(
    db: &C,
    group: GroupBuyId,
) -> ApiResult<Vec<entity::PickupPointId>> {
    Ok(group_buy_pickup_point::Entity::find()
        .filter(group_buy_pickup_point::Column::GroupBuyId.eq(group))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.pickup_point_id)
        .collect())
}

/// A group buy of the viewer's community; residents do not see drafts.
pub async fn group_here(
    db: &DatabaseConnection,
    viewer: Viewer,
    id: GroupBuyId,
) -> ApiResult<group_buy::Model> {
    let g = group_buy::Entity::find_by_id(id)
        .filter(group_buy::Column::CommunityId.eq(viewer.community))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !g.status.is_public() && !viewer.staff {
        return Err(ApiError::not_found());
    }
    Ok(g)
}

/// A group buy the merchant organises.
pub async fn merchant_group(
    db: &DatabaseConnection,
    merchant: MerchantId,
    id: GroupBuyId,
) -> ApiResult<group_buy::Model> {
    group_buy::Entity::find_by_id(id)
        .filter(group_buy::Column::MerchantId.eq(merchant))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The community's group buys: residents see the published ones, staff all.
pub async fn list(
    db: &DatabaseConnection,
    viewer: Viewer,
    status: Option<GroupBuyStatus>,
    page: PageRequest,
) -> ApiResult<Page<GroupBuy>> {
    let mut select =
        group_buy::Entity::find().filter(group_buy::Column::CommunityId.eq(viewer.community));
    if !viewer.staff {
        select = select.filter(group_buy::Column::Status.ne(GroupBuyStatus::Draft));
    }
    if let Some(s) = status {
        select = select.filter(group_buy::Column::Status.eq(s));
    }
    let page = page
        .fetch(select, group_buy::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    page_of(db, page).await
}

/// The merchant's group buys, in every community.
pub async fn merchant_list(
    db: &DatabaseConnection,
    merchant: MerchantId,
    status: Option<GroupBuyStatus>,
    page: PageRequest,
) -> ApiResult<Page<GroupBuy>> {
    let mut select = group_buy::Entity::find().filter(group_buy::Column::MerchantId.eq(merchant));
    if let Some(s) = status {
        select = select.filter(group_buy::Column::Status.eq(s));
    }
    let page = page
        .fetch(select, group_buy::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    page_of(db, page).await
}

/// A group buy with its participants' introductions, which only staff and
/// participants (a household of `households` has paid) see.
pub async fn detail(
    db: &DatabaseConnection,
    viewer: Viewer,
    households: &[HouseholdId],
    id: GroupBuyId,
) -> ApiResult<GroupBuyDetail> {
    let g = group_here(db, viewer, id).await?;
    let paid = orders_of_group(db, g.id, &entity::OrderStatus::PAID, None).await?;
    let participant = paid.iter().any(|o| households.contains(&o.household_id));
    let mut introductions = Vec::new();
    if viewer.staff || participant {
        let with_intro: Vec<_> = paid.into_iter().filter(|o| o.intro.is_some()).collect();
        let names: HashMap<UserId, String> = user::Entity::find()
            .filter(user::Column::Id.is_in(with_intro.iter().map(|o| o.user_id)))
            .all(db)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        for o in with_intro {
            introductions.push(Introduction {
                name: crate::pii::masked_name(names.get(&o.user_id).map_or("", String::as_str)),
                intro: o.intro.unwrap_or_default(),
                joined_at: o.created_at,
            });
        }
    }
    Ok(GroupBuyDetail {
        group_buy: view(db, g).await?,
        introductions,
    })
}

// ---------------------------------------------------------------- organising

/// What the database knows of the pickup points and products `body` names:
/// the community's active points, the organising merchant's products.
async fn known(
    db: &DatabaseConnection,
    community: CommunityId,
    merchant: Option<MerchantId>,
    body: &NewGroupBuy,
) -> ApiResult<Known> {
    let active_points = pickup_point::Entity::find()
        .filter(pickup_point::Column::Id.is_in(body.pickup_point_ids.clone()))
        .filter(pickup_point::Column::CommunityId.eq(community))
        .filter(pickup_point::Column::Active.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    let product_ids: Vec<ProductId> = body.items.iter().filter_map(|i| i.product_id).collect();
    let products = match merchant {
        Some(m) if !product_ids.is_empty() => product::Entity::find()
            .filter(product::Column::Id.is_in(product_ids))
            .filter(product::Column::MerchantId.eq(m))
            .all(db)
            .await?
            .into_iter()
            .map(|p| {
                let defaults = ProductDefaults {
                    title: p.title,
                    unit: p.unit,
                    price: p.price,
                };
                (p.id, defaults)
            })
            .collect(),
        _ => HashMap::new(),
    };
    Ok(Known {
        active_points,
        products,
    })
}

/// Checks `body` for a group buy in `community` organised by `merchant`
/// (none: the property).
async fn plan(
    db: &DatabaseConnection,
    community: CommunityId,
    merchant: Option<MerchantId>,
    body: NewGroupBuy,
    now: DateTime<Utc>,
) -> ApiResult<Plan> {
    let known = known(db, community, merchant, &body).await?;
    Plan::parse(body, now, &known)
}

/// Writes the plan's items and pickup points for `group` (replacing any).
async fn write_parts<C: ConnectionTrait>(txn: &C, group: GroupBuyId, plan: &Plan) -> ApiResult<()> {
    group_buy_item::Entity::delete_many()
        .filter(group_buy_item::Column::GroupBuyId.eq(group))
        .exec(txn)
        .await?;
    group_buy_pickup_point::Entity::delete_many()
        .filter(group_buy_pickup_point::Column::GroupBuyId.eq(group))
        .exec(txn)
        .await?;
    group_buy_item::Entity::insert_many(plan.item_rows(group))
        .exec_without_returning(txn)
        .await?;
    if !plan.points().is_empty() {
        group_buy_pickup_point::Entity::insert_many(plan.points().iter().map(|p| {
            group_buy_pickup_point::ActiveModel {
                group_buy_id: Set(group),
                pickup_point_id: Set(*p),
            }
        }))
        .exec_without_returning(txn)
        .await?;
    }
    Ok(())
}

/// Opens a group buy of the merchant's in a community where it sells.
pub async fn create_for_merchant(
    db: &DatabaseConnection,
    merchant: MerchantId,
    by: UserId,
    body: NewGroupBuy,
) -> ApiResult<GroupBuy> {
    let community = body
        .community_id
        .ok_or_else(|| ApiError::invalid_field("community_id", "required"))?;
    crate::merchant::service::ensure_selling(db, merchant, community).await?;
    create(db, community, Some(merchant), by, body).await
}

/// Opens a group buy the property runs itself, of its own items.
pub async fn create_for_property(
    db: &DatabaseConnection,
    community: CommunityId,
    by: UserId,
    body: NewGroupBuy,
) -> ApiResult<GroupBuy> {
    if body.community_id.is_some_and(|c| c != community) {
        return Err(ApiError::invalid_field(
            "community_id",
            "leave it out (the path names the community)",
        ));
    }
    if body.items.iter().any(|i| i.product_id.is_some()) {
        return Err(ApiError::invalid_field(
            "product_id",
            "the property's items are its own (give title and unit)",
        ));
    }
    create(db, community, None, by, body).await
}

/// Writes a new group buy from `body` (published at once when it asks),
/// in one transaction.
async fn create(
    db: &DatabaseConnection,
    community: CommunityId,
    merchant: Option<MerchantId>,
    by: UserId,
    body: NewGroupBuy,
) -> ApiResult<GroupBuy> {
    let now = clock::now();
    let publish = body.publish;
    let plan = plan(db, community, merchant, body, now).await?;
    let id = GroupBuyId::new();
    let mut row = group_buy::ActiveModel {
        id: Set(id),
        community_id: Set(community),
        merchant_id: Set(merchant),
        organiser_kind: Set(match merchant {
            Some(_) => OrganiserKind::Merchant,
            None => OrganiserKind::Property,
        }),
        created_by: Set(by),
        status: Set(if publish {
            GroupBuyStatus::Open
        } else {
            GroupBuyStatus::Draft
        }),
        status_reason: Set(None),
        succeeded_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    plan.row(&mut row, now);
    let txn = begin_write(db).await?;
    group_buy::Entity::insert(row)
        .exec_without_returning(&txn)
        .await?;
    write_parts(&txn, id, &plan).await?;
    txn.commit().await?;
    let saved = group_buy::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(db, saved).await
}

/// Edits a draft group buy of the merchant's.
pub async fn merchant_edit(
    db: &DatabaseConnection,
    merchant: MerchantId,
    id: GroupBuyId,
    changes: GroupBuyChanges,
) -> ApiResult<GroupBuy> {
    let g = merchant_group(db, merchant, id).await?;
    edit_draft(db, g, changes).await
}

/// Edits a draft group buy the property runs (a merchant's is the
/// merchant's to edit).
pub async fn property_edit(
    db: &DatabaseConnection,
    viewer: Viewer,
    id: GroupBuyId,
    changes: GroupBuyChanges,
) -> ApiResult<GroupBuy> {
    let g = group_here(db, viewer, id).await?;
    if g.merchant_id.is_some() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "the merchant runs this group buy; only the merchant edits it",
        ));
    }
    edit_draft(db, g, changes).await
}

/// Applies `changes` to draft `g`: checked like a new group buy, written
/// only while it is still a draft (a concurrent publish wins).
async fn edit_draft(
    db: &DatabaseConnection,
    g: group_buy::Model,
    changes: GroupBuyChanges,
) -> ApiResult<GroupBuy> {
    let not_draft = || {
        ApiError::new(
            ErrorCode::InvalidTransition,
            "only a draft can be edited; cancel it and open a new one",
        )
    };
    if g.status != GroupBuyStatus::Draft {
        return Err(not_draft());
    }
    let items = match changes.items {
        Some(_) => Vec::new(),
        None => items_of(db, g.id).await?,
    };
    let points = match changes.pickup_point_ids {
        Some(_) => Vec::new(),
        None => points_of(db, g.id).await?,
    };
    let body = changes.over(&g, items, points);
    let now = clock::now();
    let plan = plan(db, g.community_id, g.merchant_id, body, now).await?;
    let mut row = group_buy::ActiveModel::default();
    plan.row(&mut row, now);
    let txn = begin_write(db).await?;
    let update = group_buy::Entity::update_many()
        .set(row)
        .filter(group_buy::Column::Id.eq(g.id))
        .filter(group_buy::Column::Status.eq(GroupBuyStatus::Draft));
    guarded(&txn, update, not_draft()).await?;
    write_parts(&txn, g.id, &plan).await?;
    txn.commit().await?;
    let saved = group_buy::Entity::find_by_id(g.id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    view(db, saved).await
}
