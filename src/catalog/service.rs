//! The catalog's rules: the category tree, merchants' products and their
//! images, and what residents of a community may see and buy (the listing
//! and the search share one condition for it).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use entity::{
    CategoryId, CommunityId, FileId, MerchantStatus, ProductId, category, file, merchant,
    merchant_approval, product, product_image,
};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};

use super::search::{self, After, ResultCache, TermStats};
use super::views::{
    CatalogFilter, Category, CategoryChanges, CategoryFields, Product, ProductChanges,
    ProductFields, ProductImage, Search, tree,
};
use crate::auth::Principal;
use crate::config::Settings;
use crate::files::service::signed_link;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::{Page, PageRequest};
use crate::kernel::{clock, db};

// ---------------------------------------------------------------- categories

/// The whole category tree.
pub async fn list_categories<C: ConnectionTrait>(db: &C) -> ApiResult<Vec<Category>> {
    let all = category::Entity::find().all(db).await?;
    Ok(tree(&all, None, 0))
}

async fn find_category<C: ConnectionTrait>(db: &C, id: CategoryId) -> ApiResult<category::Model> {
    category::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::invalid_field("category_id", "no such category"))
}

/// Adds a category, under an existing parent or as a new root.
pub async fn create_category<C: ConnectionTrait>(
    db: &C,
    fields: CategoryFields,
) -> ApiResult<Category> {
    if let Some(parent) = fields.parent_id {
        find_category(db, parent)
            .await
            .map_err(|_| ApiError::invalid_field("parent_id", "no such category"))?;
    }
    let now = clock::now();
    let saved = category::ActiveModel {
        id: Set(CategoryId::new()),
        parent_id: Set(fields.parent_id),
        name: Set(fields.name),
        sort_order: Set(fields.sort_order),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(saved.into())
}

/// Renames, reorders, hides or shows a category; answers it with the
/// categories under it.
pub async fn update_category<C: ConnectionTrait>(
    db: &C,
    id: CategoryId,
    changes: CategoryChanges,
) -> ApiResult<Category> {
    let current = category::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let changes = changes.parse()?;
    let mut model = current.into_active_model();
    if let Some(v) = changes.name {
        model.name = Set(v);
    }
    if let Some(v) = changes.sort_order {
        model.sort_order = Set(v);
    }
    if let Some(v) = changes.active {
        model.active = Set(v);
    }
    model.updated_at = Set(clock::now());
    let saved = model.update(db).await?;
    let all = category::Entity::find().all(db).await?;
    let id = saved.id;
    let mut answer = Category::from(saved);
    answer.children = tree(&all, Some(id), 1);
    Ok(answer)
}

/// A category a product may be put in: one that exists and is not hidden.
async fn usable_category<C: ConnectionTrait>(db: &C, id: CategoryId) -> ApiResult<()> {
    match find_category(db, id).await? {
        c if c.active => Ok(()),
        _ => Err(ApiError::invalid_field(
            "category_id",
            "this category is hidden",
        )),
    }
}

// ---------------------------------------------------------------- products and images

/// Products with their images, looking images up only for the products
/// `may_have` says may have some (none at all: no query).
async fn with_images_of<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    models: Vec<product::Model>,
    may_have: impl Fn(&product::Model) -> bool,
) -> ApiResult<Vec<Product>> {
    let ids: Vec<ProductId> = models
        .iter()
        .filter(|m| may_have(m))
        .map(|m| m.id)
        .collect();
    let mut images: HashMap<ProductId, Vec<product_image::Model>> = HashMap::new();
    if !ids.is_empty() {
        for i in product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(ids))
            .order_by_asc(product_image::Column::SortOrder)
            .all(db)
            .await?
        {
            images.entry(i.product_id).or_default().push(i);
        }
    }
    Ok(models
        .into_iter()
        .map(|m| {
            let mine = images.remove(&m.id).unwrap_or_default();
            let mut p = Product::from(m);
            p.images = mine
                .into_iter()
                .map(|i| ProductImage {
                    file_id: i.file_id,
                    link: signed_link(settings, i.file_id),
                })
                .collect();
            p
        })
        .collect())
}

/// A page of products with their images (one query for all the images).
async fn page_with_images<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    page: Page<product::Model>,
) -> ApiResult<Page<Product>> {
    Ok(Page {
        items: with_images_of(db, settings, page.items, |_| true).await?,
        next_cursor: page.next_cursor,
    })
}

async fn one_with_images<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    m: product::Model,
) -> ApiResult<Product> {
    with_images_of(db, settings, vec![m], |_| true)
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// Checks the images a product is given: at most 9, distinct, images the
/// caller uploaded (operator admins may use anyone's).
async fn check_images<C: ConnectionTrait>(
    db: &C,
    caller: &Principal,
    ids: &[FileId],
) -> ApiResult<()> {
    if ids.len() > 9 {
        return Err(ApiError::invalid_field(
            "image_file_ids",
            "at most 9 images",
        ));
    }
    let mut seen = ids.to_vec();
    seen.sort();
    seen.dedup();
    if seen.len() != ids.len() {
        return Err(ApiError::invalid_field(
            "image_file_ids",
            "list each image once",
        ));
    }
    let files = file::Entity::find()
        .filter(file::Column::Id.is_in(ids.to_vec()))
        .all(db)
        .await?;
    let usable = files.iter().filter(|f| {
        f.content_type.starts_with("image/")
            && (f.uploaded_by == caller.user.id || caller.is_operator_admin)
    });
    if usable.count() != ids.len() {
        return Err(ApiError::invalid_field(
            "image_file_ids",
            "each must be an image you uploaded (POST /api/v1/files)",
        ));
    }
    Ok(())
}

/// Replaces a product's images, in the given order.
async fn set_images<C: ConnectionTrait>(
    db: &C,
    product: ProductId,
    ids: &[FileId],
) -> ApiResult<()> {
    product_image::Entity::delete_many()
        .filter(product_image::Column::ProductId.eq(product))
        .exec(db)
        .await?;
    if !ids.is_empty() {
        product_image::Entity::insert_many(ids.iter().enumerate().map(|(n, f)| {
            product_image::ActiveModel {
                product_id: Set(product),
                file_id: Set(*f),
                sort_order: Set(n as i32),
            }
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Puts a product in `merchant`'s catalog, indexed for search and with its
/// images, in one transaction.
pub async fn create_product<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    caller: &Principal,
    merchant: &merchant::Model,
    fields: ProductFields,
) -> ApiResult<Product> {
    usable_category(db, fields.category_id).await?;
    check_images(db, caller, &fields.image_file_ids).await?;
    let now = clock::now();
    let txn = db::begin_write(db).await?;
    let saved = product::ActiveModel {
        id: Set(ProductId::new()),
        merchant_id: Set(merchant.id),
        category_id: Set(fields.category_id),
        kind: Set(fields.kind),
        title: Set(fields.title),
        description: Set(fields.description),
        unit: Set(fields.unit),
        price: Set(fields.price),
        original_price: Set(fields.original_price),
        stock: Set(fields.stock),
        sort_order: Set(fields.sort_order),
        on_shelf: Set(fields.on_shelf),
        search_version: Set(search::VERSION),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    search::index(&txn, &saved, &merchant.shop_name).await?;
    set_images(&txn, saved.id, &fields.image_file_ids).await?;
    txn.commit().await?;
    one_with_images(db, settings, saved).await
}

/// A page of the merchant's own catalog, on and off the shelf.
pub async fn merchant_products<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    merchant: entity::MerchantId,
    page: PageRequest,
) -> ApiResult<Page<Product>> {
    let select = product::Entity::find().filter(product::Column::MerchantId.eq(merchant));
    let page = page
        .fetch(select, product::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    page_with_images(db, settings, page).await
}

/// Changes one of `merchant`'s products; re-indexes it for search when its
/// words changed (or an older tokenizer indexed it), in the same
/// transaction as the change and its images.
pub async fn update_product<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    settings: &Settings,
    caller: &Principal,
    merchant: &merchant::Model,
    id: ProductId,
    changes: ProductChanges,
) -> ApiResult<Product> {
    let current = product::Entity::find_by_id(id)
        .filter(product::Column::MerchantId.eq(merchant.id))
        .one(db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let edit = changes.parse(&current)?;
    if let Some(c) = edit.category_id {
        usable_category(db, c).await?;
    }
    if let Some(images) = &edit.image_file_ids {
        check_images(db, caller, images).await?;
    }
    let text = edit.text()?;
    let mut model = current.clone().into_active_model();
    if let Some(c) = edit.category_id {
        model.category_id = Set(c);
    }
    if let Some(v) = text.title {
        model.title = Set(v);
    }
    if let Some(v) = text.description {
        model.description = Set(v);
    }
    if let Some(v) = text.unit {
        model.unit = Set(v);
    }
    model.price = Set(edit.price);
    model.original_price = Set(edit.original_price);
    if let Some(n) = edit.stock {
        model.stock = Set(Some(n));
    }
    if let Some(v) = edit.sort_order {
        model.sort_order = Set(v);
    }
    if let Some(v) = edit.on_shelf {
        model.on_shelf = Set(v);
    }
    model.updated_at = Set(clock::now());
    let txn = db::begin_write(db).await?;
    let saved = model.update(&txn).await?;
    if saved.title != current.title
        || saved.description != current.description
        || saved.search_version != search::VERSION
    {
        search::index(&txn, &saved, &merchant.shop_name).await?;
    }
    if let Some(images) = &edit.image_file_ids {
        set_images(&txn, saved.id, images).await?;
    }
    txn.commit().await?;
    one_with_images(db, settings, saved).await
}

// ---------------------------------------------------------------- what residents see

/// The products residents of `community` may see, narrowed by `filter`: on
/// the shelf, in visible categories, from merchants verified here (and not
/// expired). One condition on `products`, for the listing and for search.
async fn visible<C: ConnectionTrait>(
    db: &C,
    community: CommunityId,
    filter: &CatalogFilter,
) -> ApiResult<Condition> {
    // Correlated EXISTS rather than IN (subquery): both engines then start
    // from the search index and probe the seller and category per product
    // (SQLite otherwise walks the products of every seller).
    let seller = Query::select()
        .expr(Expr::val(1))
        .from(merchant_approval::Entity)
        .and_where(
            Expr::col((
                merchant_approval::Entity,
                merchant_approval::Column::MerchantId,
            ))
            .equals((product::Entity, product::Column::MerchantId)),
        )
        .and_where(merchant_approval::Column::CommunityId.eq(community))
        .and_where(merchant_approval::Column::Status.eq(MerchantStatus::Verified))
        .cond_where(
            Condition::any()
                .add(merchant_approval::Column::VerifiedUntil.is_null())
                .add(merchant_approval::Column::VerifiedUntil.gt(clock::now())),
        )
        .to_owned();
    let hidden = Query::select()
        .expr(Expr::val(1))
        .from(category::Entity)
        .and_where(
            Expr::col((category::Entity, category::Column::Id))
                .equals((product::Entity, product::Column::CategoryId)),
        )
        .and_where(category::Column::Active.eq(false))
        .to_owned();
    let mut condition = Condition::all()
        .add(Expr::exists(seller))
        .add(product::Column::OnShelf.eq(true))
        .add(Expr::exists(hidden).not());
    if let Some(c) = filter.category_id {
        let all = category::Entity::find().all(db).await?;
        condition = condition.add(product::Column::CategoryId.is_in(subtree(&all, c)));
    }
    if let Some(m) = filter.merchant_id {
        condition = condition.add(product::Column::MerchantId.eq(m));
    }
    if let Some(k) = filter.kind {
        condition = condition.add(product::Column::Kind.eq(k));
    }
    if let Some(p) = filter.min_price {
        condition = condition.add(product::Column::Price.gte(p));
    }
    if let Some(p) = filter.max_price {
        condition = condition.add(product::Column::Price.lte(p));
    }
    if filter.in_stock == Some(true) {
        condition = condition.add(
            Condition::any()
                .add(product::Column::Stock.is_null())
                .add(product::Column::Stock.gt(0)),
        );
    }
    Ok(condition)
}

/// `root` and every category under it.
fn subtree(all: &[category::Model], root: CategoryId) -> Vec<CategoryId> {
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() && found.len() <= all.len() {
        let parent = found[next];
        found.extend(
            all.iter()
                .filter(|c| c.parent_id == Some(parent))
                .map(|c| c.id),
        );
        next += 1;
    }
    found
}

/// A page of what residents of `community` can buy, in the merchants'
/// display order.
pub async fn community_products<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    community: CommunityId,
    filter: &CatalogFilter,
    page: PageRequest,
) -> ApiResult<Page<Product>> {
    let select = product::Entity::find()
        .filter(visible(db, community, filter).await?)
        .order_by_asc(product::Column::SortOrder);
    let page = page
        .fetch(select, product::Column::Id, |m| m.id.as_uuid(), db)
        .await?;
    page_with_images(db, settings, page).await
}

/// One page of search results among what residents of `community` can
/// buy, best match first, as the JSON of a `Page<Product>`. A page this
/// instance answered lately comes from `cache`, keyed by everything the
/// answer depends on.
pub async fn search_products<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    stats: &TermStats,
    cache: &ResultCache,
    community: CommunityId,
    search: Search,
    filter: &CatalogFilter,
) -> ApiResult<Arc<[u8]>> {
    let Search {
        query,
        limit,
        after,
    } = search;
    // Everything the answer depends on: the community, the parsed query
    // (so 海带 and ＂海带＂ share an entry), the filters and the page.
    let key = format!(
        "{}|{:?}|{:?}|{:?}|{limit}",
        community,
        query.terms(),
        filter,
        after
    );
    if let Some(page) = cache.get(&key) {
        return Ok(page);
    }
    let condition = visible(db, community, filter).await?;
    let mut hits = search::search(db, stats, &query, condition, after, limit + 1).await?;
    let next_cursor = if hits.len() as u64 > limit {
        hits.truncate(limit as usize);
        hits.last().map(|hit| {
            After {
                score: hit.score,
                product: hit.product.id,
            }
            .encode()
        })
    } else {
        None
    };
    let with: HashSet<ProductId> = hits
        .iter()
        .filter(|h| h.has_images)
        .map(|h| h.product.id)
        .collect();
    let ranked = hits.into_iter().map(|h| h.product).collect();
    let page = Page {
        items: with_images_of(db, settings, ranked, |m| with.contains(&m.id)).await?,
        next_cursor,
    };
    let body: Arc<[u8]> = serde_json::to_vec(&page)
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?
        .into();
    cache.insert(key, body.clone());
    Ok(body)
}
