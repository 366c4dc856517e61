use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use entity::{
    CategoryId, CommunityId, Fen, FileId, MerchantId, MerchantStatus, ProductId, ProductKind,
    category, file, merchant_approval, product, product_image,
};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::search;
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::files::routes::{DownloadLink, signed_link};
use crate::kernel::clock;
use crate::kernel::error::{ApiError, ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::kernel::text;
use crate::state::AppState;

// ---------------------------------------------------------------- categories

/// A category with its children, in display order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Category {
    pub id: CategoryId,
    pub parent_id: Option<CategoryId>,
    pub name: String,
    pub sort_order: i32,
    pub active: bool,
    #[schema(no_recursion)]
    pub children: Vec<Category>,
}

fn tree(all: &[category::Model], parent: Option<CategoryId>, depth: usize) -> Vec<Category> {
    if depth > 8 {
        return Vec::new();
    }
    let mut level: Vec<&category::Model> = all.iter().filter(|c| c.parent_id == parent).collect();
    level.sort_by_key(|c| (c.sort_order, c.name.clone()));
    level
        .into_iter()
        .map(|c| Category {
            id: c.id,
            parent_id: c.parent_id,
            name: c.name.clone(),
            sort_order: c.sort_order,
            active: c.active,
            children: tree(all, Some(c.id), depth + 1),
        })
        .collect()
}

/// The category tree (衣, 食, 住, 行, 生活服务 and what the operator added).
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = [Category])))]
pub async fn list_categories(state: web::Data<AppState>) -> ApiResult<web::Json<Vec<Category>>> {
    let all = category::Entity::find().all(&state.db).await?;
    Ok(web::Json(tree(&all, None, 0)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// At most 16 characters.
    pub name: String,
    /// Under this category (none: a new root).
    pub parent_id: Option<CategoryId>,
    pub sort_order: Option<i32>,
}

async fn find_category(state: &AppState, id: CategoryId) -> ApiResult<category::Model> {
    category::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::invalid_field("category_id", "no such category"))
}

/// Add a category.
#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = NewCategory,
    responses((status = 201, body = Category), (status = 422, body = ErrorBody)))]
pub async fn create_category(
    state: web::Data<AppState>,
    body: Json<NewCategory>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let name = text::required("name", &body.name, 16)?;
    if let Some(parent) = body.parent_id {
        find_category(&state, parent)
            .await
            .map_err(|_| ApiError::invalid_field("parent_id", "no such category"))?;
    }
    let now = clock::now();
    let saved = category::ActiveModel {
        id: Set(CategoryId::new()),
        parent_id: Set(body.parent_id),
        name: Set(name),
        sort_order: Set(body.sort_order.unwrap_or(0)),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok(HttpResponse::Created().json(Category {
        id: saved.id,
        parent_id: saved.parent_id,
        name: saved.name,
        sort_order: saved.sort_order,
        active: saved.active,
        children: Vec::new(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChanges {
    pub name: Option<String>,
    pub sort_order: Option<i32>,
    /// Hidden categories take no new products and their products are not listed.
    pub active: Option<bool>,
}

/// Rename, reorder, hide or show a category.
#[utoipa::path(patch, path = "/api/v1/categories/{category_id}", tag = "catalog",
    params(("category_id" = CategoryId, Path)), request_body = CategoryChanges,
    responses((status = 200, body = Category), (status = 404, body = ErrorBody)))]
pub async fn update_category(
    state: web::Data<AppState>,
    path: web::Path<CategoryId>,
    body: Json<CategoryChanges>,
) -> ApiResult<web::Json<Category>> {
    let body = body.into_inner();
    let current = category::Entity::find_by_id(path.into_inner())
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut model = current.into_active_model();
    if let Some(v) = body.name {
        model.name = Set(text::required("name", &v, 16)?);
    }
    if let Some(v) = body.sort_order {
        model.sort_order = Set(v);
    }
    if let Some(v) = body.active {
        model.active = Set(v);
    }
    model.updated_at = Set(clock::now());
    let saved = model.update(&state.db).await?;
    let all = category::Entity::find().all(&state.db).await?;
    Ok(web::Json(Category {
        id: saved.id,
        parent_id: saved.parent_id,
        name: saved.name,
        sort_order: saved.sort_order,
        active: saved.active,
        children: tree(&all, Some(saved.id), 1),
    }))
}

// ---------------------------------------------------------------- products

#[derive(Debug, Serialize, ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub merchant_id: MerchantId,
    pub category_id: CategoryId,
    pub kind: ProductKind,
    pub title: String,
    pub description: String,
    pub unit: String,
    /// Fen.
    pub price: Fen,
    /// Fen; the struck-through price.
    pub original_price: Option<Fen>,
    /// Units left; absent for services (unlimited).
    pub stock: Option<i64>,
    pub sort_order: i32,
    pub on_shelf: bool,
    /// In display order, each with a short-lived download link.
    pub images: Vec<ProductImage>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductImage {
    pub file_id: FileId,
    pub link: DownloadLink,
}

/// Products with their images (one query for all the images).
async fn with_images(state: &AppState, models: Vec<product::Model>) -> ApiResult<Vec<Product>> {
    with_images_of(state, models, |_| true).await
}

/// Products with their images, looking images up only for the products
/// `may_have` says may have some (none at all: no query).
async fn with_images_of(
    state: &AppState,
    models: Vec<product::Model>,
    may_have: impl Fn(&product::Model) -> bool,
) -> ApiResult<Vec<Product>> {
    let ids: Vec<ProductId> = models
        .iter()
        .filter(|m| may_have(m))
        .map(|m| m.id)
        .collect();
    let mut images: std::collections::HashMap<ProductId, Vec<product_image::Model>> =
        std::collections::HashMap::new();
    if !ids.is_empty() {
        for i in product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(ids))
            .order_by_asc(product_image::Column::SortOrder)
            .all(&state.db)
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
                    link: signed_link(&state.settings, i.file_id),
                })
                .collect();
            p
        })
        .collect())
}

async fn page_with_images(
    state: &AppState,
    page: Page<product::Model>,
) -> ApiResult<Page<Product>> {
    Ok(Page {
        items: with_images(state, page.items).await?,
        next_cursor: page.next_cursor,
    })
}

async fn one_with_images(state: &AppState, m: product::Model) -> ApiResult<Product> {
    with_images(state, vec![m])
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// Checks the images a product is given: at most 9, distinct, images the
/// caller uploaded.
async fn check_images(state: &AppState, caller: &Caller, ids: &[FileId]) -> ApiResult<()> {
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
        .all(&state.db)
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
async fn set_images<C: sea_orm::ConnectionTrait>(
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

impl From<product::Model> for Product {
    fn from(m: product::Model) -> Self {
        Self {
            id: m.id,
            merchant_id: m.merchant_id,
            category_id: m.category_id,
            kind: m.kind,
            title: m.title,
            description: m.description,
            unit: m.unit,
            price: m.price,
            original_price: m.original_price,
            stock: m.stock,
            sort_order: m.sort_order,
            on_shelf: m.on_shelf,
            images: Vec::new(),
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    pub kind: ProductKind,
    pub category_id: CategoryId,
    /// At most 60 characters.
    pub title: String,
    /// At most 2,000 characters.
    #[serde(default)]
    pub description: String,
    /// 斤, 份, 箱, 次… (at most 16 characters).
    pub unit: String,
    /// Fen.
    pub price: Fen,
    /// Fen; at least `price`.
    pub original_price: Option<Fen>,
    /// Goods: units in stock (required). Services: leave out (unlimited).
    pub stock: Option<i64>,
    pub sort_order: Option<i32>,
    /// Default: on the shelf.
    pub on_shelf: Option<bool>,
    /// Up to 9 images, in display order (ids from `POST /api/v1/files`).
    #[serde(default)]
    pub image_file_ids: Vec<FileId>,
}

fn check_prices(price: Fen, original: Option<Fen>) -> ApiResult<()> {
    match original {
        Some(o) if o < price => Err(ApiError::invalid_field(
            "original_price",
            "must not be below the price",
        )),
        _ => Ok(()),
    }
}

fn check_stock(kind: ProductKind, stock: Option<i64>) -> ApiResult<Option<i64>> {
    match (kind, stock) {
        (ProductKind::Goods, Some(n)) if n >= 0 => Ok(Some(n)),
        (ProductKind::Goods, _) => Err(ApiError::invalid_field(
            "stock",
            "goods need a stock of 0 or more",
        )),
        (ProductKind::Service, None) => Ok(None),
        (ProductKind::Service, Some(_)) => Err(ApiError::invalid_field(
            "stock",
            "services have no stock (leave it out)",
        )),
    }
}

async fn usable_category(state: &AppState, id: CategoryId) -> ApiResult<()> {
    match find_category(state, id).await? {
        c if c.active => Ok(()),
        _ => Err(ApiError::invalid_field(
            "category_id",
            "this category is hidden",
        )),
    }
}

/// Put a product or service in the merchant's catalog.
#[utoipa::path(post, path = "/api/v1/merchants/{merchant_id}/products", tag = "catalog",
    params(("merchant_id" = MerchantId, Path)), request_body = NewProduct,
    responses((status = 201, body = Product), (status = 422, body = ErrorBody)))]
pub async fn create_product(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    body: Json<NewProduct>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let title = text::required("title", &body.title, 60)?;
    let unit = text::required("unit", &body.unit, 16)?;
    let description = body.description.trim().to_owned();
    if description.chars().count() > 2000 {
        return Err(ApiError::invalid_field(
            "description",
            "at most 2,000 characters",
        ));
    }
    check_prices(body.price, body.original_price)?;
    let stock = check_stock(body.kind, body.stock)?;
    usable_category(&state, body.category_id).await?;
    check_images(&state, &caller, &body.image_file_ids).await?;
    let now = clock::now();
    let txn = crate::kernel::db::begin_write(&state.db).await?;
    let saved = product::ActiveModel {
        id: Set(ProductId::new()),
        merchant_id: Set(scope.merchant.id),
        category_id: Set(body.category_id),
        kind: Set(body.kind),
        title: Set(title),
        description: Set(description),
        unit: Set(unit),
        price: Set(body.price),
        original_price: Set(body.original_price),
        stock: Set(stock),
        sort_order: Set(body.sort_order.unwrap_or(0)),
        on_shelf: Set(body.on_shelf.unwrap_or(true)),
        search_version: Set(search::VERSION),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    search::index(&txn, &saved, &scope.merchant.shop_name).await?;
    set_images(&txn, saved.id, &body.image_file_ids).await?;
    txn.commit().await?;
    Ok(HttpResponse::Created().json(one_with_images(&state, saved).await?))
}

/// The merchant's own catalog, on and off the shelf.
#[utoipa::path(get, path = "/api/v1/merchants/{merchant_id}/products", tag = "catalog",
    params(("merchant_id" = MerchantId, Path), PageQuery),
    responses((status = 200, body = Page<Product>)))]
pub async fn list_own_products(
    state: web::Data<AppState>,
    scope: MerchantScope,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Product>>> {
    let select = product::Entity::find().filter(product::Column::MerchantId.eq(scope.merchant.id));
    let page = query
        .parse()?
        .fetch(select, product::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page_with_images(&state, page).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductChanges {
    pub category_id: Option<CategoryId>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub unit: Option<String>,
    pub price: Option<Fen>,
    pub original_price: Option<Fen>,
    /// Goods only: the new stock count.
    pub stock: Option<i64>,
    pub sort_order: Option<i32>,
    pub on_shelf: Option<bool>,
    /// Replaces the images (up to 9, in display order).
    pub image_file_ids: Option<Vec<FileId>>,
}

/// Change a product: details, price, stock, or on/off the shelf.
#[utoipa::path(patch, path = "/api/v1/merchants/{merchant_id}/products/{product_id}", tag = "catalog",
    params(("merchant_id" = MerchantId, Path), ("product_id" = ProductId, Path)), request_body = ProductChanges,
    responses((status = 200, body = Product), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_product(
    state: web::Data<AppState>,
    scope: MerchantScope,
    caller: Caller,
    path: web::Path<(MerchantId, ProductId)>,
    body: Json<ProductChanges>,
) -> ApiResult<web::Json<Product>> {
    let body = body.into_inner();
    let current = product::Entity::find_by_id(path.1)
        .filter(product::Column::MerchantId.eq(scope.merchant.id))
        .one(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let price = body.price.unwrap_or(current.price);
    let original = body.original_price.or(current.original_price);
    check_prices(price, original)?;
    if body.stock.is_some() {
        check_stock(current.kind, body.stock)?;
    }
    if let Some(c) = body.category_id {
        usable_category(&state, c).await?;
    }
    if let Some(images) = &body.image_file_ids {
        check_images(&state, &caller, images).await?;
    }
    let mut model = current.clone().into_active_model();
    if let Some(c) = body.category_id {
        model.category_id = Set(c);
    }
    if let Some(v) = body.title {
        model.title = Set(text::required("title", &v, 60)?);
    }
    if let Some(v) = body.description {
        let v = v.trim().to_owned();
        if v.chars().count() > 2000 {
            return Err(ApiError::invalid_field(
                "description",
                "at most 2,000 characters",
            ));
        }
        model.description = Set(v);
    }
    if let Some(v) = body.unit {
        model.unit = Set(text::required("unit", &v, 16)?);
    }
    model.price = Set(price);
    model.original_price = Set(original);
    if let Some(n) = body.stock {
        model.stock = Set(Some(n));
    }
    if let Some(v) = body.sort_order {
        model.sort_order = Set(v);
    }
    if let Some(v) = body.on_shelf {
        model.on_shelf = Set(v);
    }
    model.updated_at = Set(clock::now());
    let txn = crate::kernel::db::begin_write(&state.db).await?;
    let saved = model.update(&txn).await?;
    if saved.title != current.title
        || saved.description != current.description
        || saved.search_version != search::VERSION
    {
        search::index(&txn, &saved, &scope.merchant.shop_name).await?;
    }
    if let Some(images) = &body.image_file_ids {
        set_images(&txn, saved.id, images).await?;
    }
    txn.commit().await?;
    Ok(web::Json(one_with_images(&state, saved).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CatalogFilter {
    /// This category and the categories under it.
    pub category_id: Option<CategoryId>,
    pub merchant_id: Option<MerchantId>,
    pub kind: Option<ProductKind>,
    /// Fen, inclusive.
    pub min_price: Option<Fen>,
    /// Fen, inclusive.
    pub max_price: Option<Fen>,
    /// Only what can be bought now: goods with stock left, and services.
    pub in_stock: Option<bool>,
}

/// The products residents of `community` may see, narrowed by `filter`: on
/// the shelf, in visible categories, from merchants verified here (and not
/// expired). One condition on `products`, for the listing and for search.
async fn visible(
    state: &AppState,
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
        let all = category::Entity::find().all(&state.db).await?;
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

/// What residents of this community can buy: products on the shelf, in
/// visible categories, from merchants verified here (and not expired), in
/// the merchants' display order.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/products", tag = "catalog",
    params(("community_id" = CommunityId, Path), CatalogFilter, PageQuery),
    responses((status = 200, body = Page<Product>), (status = 400, body = ErrorBody)))]
pub async fn community_products(
    state: web::Data<AppState>,
    scope: CommunityScope,
    filter: web::Query<CatalogFilter>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Product>>> {
    let select = product::Entity::find()
        .filter(visible(&state, scope.id(), &filter).await?)
        .order_by_asc(product::Column::SortOrder);
    let page = query
        .parse()?
        .fetch(select, product::Column::Id, |m| m.id.as_uuid(), &state.db)
        .await?;
    Ok(web::Json(page_with_images(&state, page).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Words to look for in titles, descriptions and shop names (1 to 32
    /// characters; Chinese needs no spaces: 海带 finds 连江海带).
    pub q: String,
    /// Results per page, 1 to 100 (default 20).
    pub limit: Option<u64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// Search (模糊搜索) what residents of this community can buy, best match
/// first: each word of `q` must occur in the product's title, description or
/// shop name (a word of four or more characters: each three neighbouring
/// characters of it, so 烟台苹果 also finds 烟台红富士苹果 only if it holds
/// 烟台苹 and 台苹果 somewhere); matches in the title count
/// most, then the shop name, then the description. Takes the listing's filters.
#[utoipa::path(get, path = "/api/v1/communities/{community_id}/products/search", tag = "catalog",
    params(("community_id" = CommunityId, Path), SearchParams, CatalogFilter),
    responses((status = 200, body = Page<Product>), (status = 400, body = ErrorBody)))]
pub async fn search_products(
    state: web::Data<AppState>,
    scope: CommunityScope,
    params: web::Query<SearchParams>,
    filter: web::Query<CatalogFilter>,
) -> ApiResult<HttpResponse> {
    let query = search::SearchQuery::parse(&params.q)?;
    let limit = PageQuery {
        limit: params.limit,
        cursor: None,
    }
    .parse()?
    .limit;
    let after = params
        .cursor
        .as_deref()
        .map(search::After::decode)
        .transpose()?;
    // Everything the answer depends on: the community, the parsed query
    // (so 海带 and ＂海带＂ share an entry), the filters and the page.
    let key = format!(
        "{}|{:?}|{:?}|{:?}|{limit}",
        scope.id(),
        query.terms(),
        filter.0,
        after
    );
    let json = |body: web::Bytes| {
        HttpResponse::Ok()
            .content_type(actix_web::http::header::ContentType::json())
            .body(body)
    };
    if let Some(page) = state.search_results.get(&key) {
        return Ok(json(page));
    }
    let condition = visible(&state, scope.id(), &filter).await?;
    let mut hits = search::search(
        &state.db,
        &state.search_stats,
        &query,
        condition,
        after,
        limit + 1,
    )
    .await?;
    let next_cursor = if hits.len() as u64 > limit {
        hits.truncate(limit as usize);
        hits.last().map(|hit| {
            search::After {
                score: hit.score,
                product: hit.product.id,
            }
            .encode()
        })
    } else {
        None
    };
    let with: std::collections::HashSet<ProductId> = hits
        .iter()
        .filter(|h| h.has_images)
        .map(|h| h.product.id)
        .collect();
    let ranked = hits.into_iter().map(|h| h.product).collect();
    let page = Page {
        items: with_images_of(&state, ranked, |m| with.contains(&m.id)).await?,
        next_cursor,
    };
    let body = web::Bytes::from(
        serde_json::to_vec(&page).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?,
    );
    state.search_results.insert(key, body.clone());
    Ok(json(body))
}

/// These routes, each with its access rule (`crate::routes` merges every
/// capability's table).
#[rustfmt::skip]
pub fn table() -> Vec<crate::auth::ApiRoute> {
    use crate::auth::{Access::*, route};
    use crate::auth::access::{ANY_STAFF, MERCHANT_ANY};
    vec![
        // Catalog: categories and products
        route::<__path_list_categories, _, _>(SignedIn, list_categories),
        route::<__path_create_category, _, _>(OperatorAdmin, create_category),
        route::<__path_update_category, _, _>(OperatorAdmin, update_category),
        route::<__path_create_product, _, _>(Merchant(MERCHANT_ANY), create_product),
        route::<__path_list_own_products, _, _>(Merchant(MERCHANT_ANY), list_own_products),
        route::<__path_update_product, _, _>(Merchant(MERCHANT_ANY), update_product),
        route::<__path_community_products, _, _>(Residents(ANY_STAFF), community_products),
        route::<__path_search_products, _, _>(Residents(ANY_STAFF), search_products),
    ]
}
