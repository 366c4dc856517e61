//! The catalog endpoints: the category tree, merchants' products, and what
//! residents can list and search. Handlers only; the rules are in
//! `super::service`.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use entity::{CategoryId, CommunityId, MerchantId, ProductId};

use super::service;
use super::views::{
    CatalogFilter, Category, CategoryChanges, NewCategory, NewProduct, Product, ProductChanges,
    SearchParams,
};
use crate::auth::{Caller, CommunityScope, MerchantScope};
use crate::kernel::error::{ApiResult, ErrorBody};
use crate::kernel::http::{Json, Page, PageQuery};
use crate::state::AppState;

// ---------------------------------------------------------------- categories

/// The category tree (衣, 食, 住, 行, 生活服务 and what the operator added).
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = [Category])))]
pub async fn list_categories(state: web::Data<AppState>) -> ApiResult<web::Json<Vec<Category>>> {
    Ok(web::Json(service::list_categories(&state.db).await?))
}

/// Add a category.
#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = NewCategory,
    responses((status = 201, body = Category), (status = 422, body = ErrorBody)))]
pub async fn create_category(
    state: web::Data<AppState>,
    body: Json<NewCategory>,
) -> ApiResult<HttpResponse> {
    let fields = body.into_inner().parse()?;
    let created = service::create_category(&state.db, fields).await?;
    Ok(HttpResponse::Created().json(created))
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
    // Checked after the category is found (a missing one answers 404 first).
    let updated = service::update_category(&state.db, path.into_inner(), body.into_inner()).await?;
    Ok(web::Json(updated))
}

// ---------------------------------------------------------------- products

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
    let fields = body.into_inner().parse()?;
    let created =
        service::create_product(&state.db, &state.settings, &caller, &scope.merchant, fields)
            .await?;
    Ok(HttpResponse::Created().json(created))
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
    let page = query.parse()?;
    let found =
        service::merchant_products(&state.db, &state.settings, scope.merchant.id, page).await?;
    Ok(web::Json(found))
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
    // Checked against the product it changes (its prices and kind).
    let updated = service::update_product(
        &state.db,
        &state.settings,
        &caller,
        &scope.merchant,
        path.1,
        body.into_inner(),
    )
    .await?;
    Ok(web::Json(updated))
}

// ---------------------------------------------------------------- what residents see

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
    let page = query.parse()?;
    let found =
        service::community_products(&state.db, &state.settings, scope.id(), &filter, page).await?;
    Ok(web::Json(found))
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
    let search = params.parse()?;
    let page = service::search_products(
        &state.db,
        &state.settings,
        &state.search_stats,
        &state.search_results,
        scope.id(),
        search,
        &filter,
    )
    .await?;
    // The page is already JSON (and may be shared with the cache).
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(web::Bytes::from_owner(page)))
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
