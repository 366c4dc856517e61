//! What the catalog endpoints take and answer: categories, products and
//! their images, the listing's filters and the search's parameters, each
//! request parsed into the checked values the service works with.

use chrono::{DateTime, Utc};
use entity::{CategoryId, Fen, FileId, MerchantId, ProductId, ProductKind, category, product};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::search::{After, SearchQuery};
use crate::files::views::DownloadLink;
use crate::kernel::error::{ApiError, ApiResult};
use crate::kernel::http::PageQuery;
use crate::kernel::text;

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

/// A category without its children (a new one has none).
impl From<category::Model> for Category {
    fn from(c: category::Model) -> Self {
        Self {
            id: c.id,
            parent_id: c.parent_id,
            name: c.name,
            sort_order: c.sort_order,
            active: c.active,
            children: Vec::new(),
        }
    }
}

/// The categories under `parent` (the roots for none), each with its own,
/// by sort order then name.
pub fn tree(all: &[category::Model], parent: Option<CategoryId>, depth: usize) -> Vec<Category> {
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    /// At most 16 characters.
    pub name: String,
    /// Under this category (none: a new root).
    pub parent_id: Option<CategoryId>,
    pub sort_order: Option<i32>,
}

/// A new category's checked fields (the parent's existence is the
/// service's to check).
pub struct CategoryFields {
    pub name: String,
    pub parent_id: Option<CategoryId>,
    pub sort_order: i32,
}

impl NewCategory {
    /// Checks the name (1 to 16 characters); a root when no parent is given.
    pub fn parse(self) -> ApiResult<CategoryFields> {
        Ok(CategoryFields {
            name: category_name(&self.name)?,
            parent_id: self.parent_id,
            sort_order: self.sort_order.unwrap_or(0),
        })
    }
}

fn category_name(value: &str) -> ApiResult<String> {
    text::required("name", value, 16)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryChanges {
    pub name: Option<String>,
    pub sort_order: Option<i32>,
    /// Hidden categories take no new products and their products are not listed.
    pub active: Option<bool>,
}

/// Checked changes to a category.
pub struct CategoryEdit {
    pub name: Option<String>,
    pub sort_order: Option<i32>,
    pub active: Option<bool>,
}

impl CategoryChanges {
    /// Checks a new name; the other changes need no checking.
    pub fn parse(self) -> ApiResult<CategoryEdit> {
        Ok(CategoryEdit {
            name: self.name.as_deref().map(category_name).transpose()?,
            sort_order: self.sort_order,
            active: self.active,
        })
    }
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

/// A new product's checked fields. The category and the images are the
/// service's to check (they are rows).
pub struct ProductFields {
    pub kind: ProductKind,
    pub category_id: CategoryId,
    pub title: String,
    pub description: String,
    pub unit: String,
    pub price: Fen,
    pub original_price: Option<Fen>,
    pub stock: Option<i64>,
    pub sort_order: i32,
    pub on_shelf: bool,
    pub image_file_ids: Vec<FileId>,
}

impl NewProduct {
    /// Checks the title, unit, description, prices and stock, in that order
    /// (the first wrong field is the one named).
    pub fn parse(self) -> ApiResult<ProductFields> {
        let title = title(&self.title)?;
        let unit = unit(&self.unit)?;
        let description = description(&self.description)?;
        check_prices(self.price, self.original_price)?;
        let stock = check_stock(self.kind, self.stock)?;
        Ok(ProductFields {
            kind: self.kind,
            category_id: self.category_id,
            title,
            description,
            unit,
            price: self.price,
            original_price: self.original_price,
            stock,
            sort_order: self.sort_order.unwrap_or(0),
            on_shelf: self.on_shelf.unwrap_or(true),
            image_file_ids: self.image_file_ids,
        })
    }
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

/// Checked changes to a product, as they apply to the product they were
/// parsed against (its prices and kind decide what is valid). The title,
/// description and unit are still as sent: [`ProductEdit::text`] checks
/// them, after the category and the images (the order the errors have
/// always come in).
pub struct ProductEdit {
    pub category_id: Option<CategoryId>,
    title: Option<String>,
    description: Option<String>,
    unit: Option<String>,
    /// The price after the change (the current one when unchanged).
    pub price: Fen,
    /// The struck-through price after the change.
    pub original_price: Option<Fen>,
    pub stock: Option<i64>,
    pub sort_order: Option<i32>,
    pub on_shelf: Option<bool>,
    pub image_file_ids: Option<Vec<FileId>>,
}

/// A product's changed title, description and unit, checked.
pub struct TextEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub unit: Option<String>,
}

impl ProductChanges {
    /// Checks the prices and the stock against `current`: a changed price
    /// against its other price, a stock against its kind.
    pub fn parse(self, current: &product::Model) -> ApiResult<ProductEdit> {
        let price = self.price.unwrap_or(current.price);
        let original_price = self.original_price.or(current.original_price);
        check_prices(price, original_price)?;
        if self.stock.is_some() {
            check_stock(current.kind, self.stock)?;
        }
        Ok(ProductEdit {
            category_id: self.category_id,
            title: self.title,
            description: self.description,
            unit: self.unit,
            price,
            original_price,
            stock: self.stock,
            sort_order: self.sort_order,
            on_shelf: self.on_shelf,
            image_file_ids: self.image_file_ids,
        })
    }
}

impl ProductEdit {
    /// The changed title, description and unit, checked.
    pub fn text(&self) -> ApiResult<TextEdit> {
        Ok(TextEdit {
            title: self.title.as_deref().map(title).transpose()?,
            description: self.description.as_deref().map(description).transpose()?,
            unit: self.unit.as_deref().map(unit).transpose()?,
        })
    }
}

fn title(value: &str) -> ApiResult<String> {
    text::required("title", value, 60)
}

fn unit(value: &str) -> ApiResult<String> {
    text::required("unit", value, 16)
}

/// Trimmed, at most 2,000 characters; may be empty.
fn description(value: &str) -> ApiResult<String> {
    let value = value.trim().to_owned();
    if value.chars().count() > 2000 {
        return Err(ApiError::invalid_field(
            "description",
            "at most 2,000 characters",
        ));
    }
    Ok(value)
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

// ---------------------------------------------------------------- listing and search

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

/// A checked search: the query's terms, the page size, and where the page
/// starts.
pub struct Search {
    pub query: SearchQuery,
    pub limit: u64,
    pub after: Option<After>,
}

impl SearchParams {
    /// Checks the words, then the page size, then the cursor.
    pub fn parse(&self) -> ApiResult<Search> {
        let query = SearchQuery::parse(&self.q)?;
        let limit = PageQuery {
            limit: self.limit,
            cursor: None,
        }
        .parse()?
        .limit;
        let after = self.cursor.as_deref().map(After::decode).transpose()?;
        Ok(Search {
            query,
            limit,
            after,
        })
    }
}
