//! Product search (模糊搜索) over titles, descriptions and shop names.
//!
//! Chinese has no spaces between words, so instead of a dictionary segmenter
//! the index holds character n-grams: every run of three neighbours, every
//! pair and every single character. "连江海带" is indexed as 连江海, 江海带,
//! 连江, 江海, 海带 and 连, 江, 海, 带. A query word of one character looks
//! up that character, of two that pair, and of three or more each of its
//! triples, all of which must occur: "海带" finds "连江海带" and "海带结",
//! "江海带" finds only the first, and word boundaries never get in the way.
//! A two- or three-character word (most Chinese words) is then one exact
//! term, so its best matches come straight off an index in rank order.
//! Text is NFKC-normalised and lower-cased first (full-width ＡＢＣ１２ and
//! ABC12 are one thing); anything that is not a letter or digit separates runs.
//!
//! Relevance: each (term, product) row carries a weight, 3 if the term is in
//! the title, 2 in the shop name, 1 in the description, summed; a product's
//! score is the sum over the query's terms. Ties go to the older product (id
//! order), so the same data gives the same order on SQLite and PostgreSQL.
//!
//! The index (`product_search_terms`) is written in the same transaction as
//! the product or the shop name it comes from. `VERSION` names the tokenizer:
//! when it changes, [`catch_up`] (run at start) re-indexes older products.

use std::collections::{BTreeMap, BTreeSet};

use entity::{MerchantId, ProductId, merchant, product, product_image, product_search_term};
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Order, Query, QueryStatementBuilder, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Set,
};
use unicode_normalization::UnicodeNormalization;

use crate::kernel::error::{ApiError, ErrorCode};

/// The tokenizer's version; products indexed by an older one are re-indexed.
pub const VERSION: i32 = 2;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 32;

const TITLE: i32 = 3;
const SHOP_NAME: i32 = 2;
const DESCRIPTION: i32 = 1;

/// A Unicode scalar value fits in 21 bits, so up to three pack into an i64:
/// one character as `c << 21`, a pair as `a << 21 | b`, a triple as
/// `a << 42 | b << 21 | c`. No character is U+0000, so the three shapes
/// never collide (a pair's low bits are never zero; a triple is ≥ 2^42).
const SHIFT: u32 = 21;

fn pack(gram: &[char]) -> i64 {
    let code = |c: char| i64::from(u32::from(c));
    match *gram {
        [a] => code(a) << SHIFT,
        [a, b] => (code(a) << SHIFT) | code(b),
        [a, b, c, ..] => (code(a) << (2 * SHIFT)) | (code(b) << SHIFT) | code(c),
        [] => 0,
    }
}

/// The runs of letters and digits in `text`, normalised.
fn runs(text: &str) -> Vec<Vec<char>> {
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for c in text.nfkc().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            run.push(c);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The terms of one field: each triple and pair of neighbours in a run, and
/// each character on its own.
fn field_terms(text: &str) -> BTreeSet<i64> {
    let mut terms = BTreeSet::new();
    for run in runs(text) {
        for n in 1..=3 {
            terms.extend(run.windows(n).map(pack));
        }
    }
    terms
}

/// A product's index rows: term → summed field weight.
pub fn product_terms(title: &str, shop_name: &str, description: &str) -> BTreeMap<i64, i32> {
    let mut weights = BTreeMap::new();
    for (text, weight) in [
        (title, TITLE),
        (shop_name, SHOP_NAME),
        (description, DESCRIPTION),
    ] {
        for term in field_terms(text) {
            *weights.entry(term).or_insert(0) += weight;
        }
    }
    weights
}

/// A parsed search query: the terms a product must all have (at least one):
/// per word, its triples, or the word itself when it is shorter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    terms: Vec<i64>,
}

impl SearchQuery {
    /// Parses `q`: 1 to 32 characters with at least one letter or digit.
    pub fn parse(q: &str) -> Result<Self, ApiError> {
        let q = q.trim();
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("q must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let mut terms = BTreeSet::new();
        for run in runs(q) {
            terms.extend(run.windows(run.len().min(3)).map(pack));
        }
        if terms.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "q needs at least one letter or digit",
            ));
        }
        Ok(Self {
            terms: terms.into_iter().collect(),
        })
    }
}

impl SearchQuery {
    /// The query's terms, in a canonical order (for cache keys).
    pub fn terms(&self) -> &[i64] {
        &self.terms
    }
}

/// Pages of results this instance answered lately, as the JSON it sent,
/// kept for `search.result_cache_ms`: popular queries come in bursts, and
/// a result a second old is as good as a fresh one to someone browsing
/// (ordering re-checks price and stock in the database). Keyed by everything
/// the page depends on (see `service::search_products`). Shared bytes: a hit
/// costs no copy.
pub type ResultCache = crate::kernel::cache::TtlCache<String, std::sync::Arc<[u8]>>;

/// Pages of 20 products are a few kilobytes each.
pub const RESULT_CACHE_PAGES: u64 = 10_000;

/// Where a page of results starts: after this score and product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct After {
    pub score: i64,
    pub product: ProductId,
}

impl After {
    pub fn encode(&self) -> String {
        use base64::Engine;
        let mut bytes = self.score.to_be_bytes().to_vec();
        bytes.extend_from_slice(self.product.as_uuid().as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(cursor: &str) -> Result<Self, ApiError> {
        use base64::Engine;
        let invalid = || {
            ApiError::new(
                ErrorCode::InvalidCursor,
                "this cursor was not issued by this API",
            )
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| invalid())?;
        let (score, id) = bytes.split_at_checked(8).ok_or_else(invalid)?;
        let score = i64::from_be_bytes(score.try_into().map_err(|_| invalid())?);
        let id = uuid::Uuid::from_slice(id).map_err(|_| invalid())?;
        Ok(Self {
            score,
            product: ProductId::from_uuid(id),
        })
    }
}

/// How many products each term is in, per instance, for choosing which
/// clause drives a query. Only a planning hint: a stale count makes a query
/// slower, never wrong, so nothing needs sharing between instances.
#[derive(Clone, Debug)]
pub struct TermStats {
    counts: crate::kernel::cache::TtlCache<i64, u64>,
}

impl Default for TermStats {
    fn default() -> Self {
        Self {
            counts: crate::kernel::cache::TtlCache::new(600_000, 100_000),
        }
    }
}

impl TermStats {
    /// The term among `terms` in the fewest products.
    async fn rarest<C: ConnectionTrait>(&self, db: &C, terms: &[i64]) -> Result<i64, DbErr> {
        let missing: Vec<i64> = terms
            .iter()
            .copied()
            .filter(|t| self.counts.get(t).is_none())
            .collect();
        if !missing.is_empty() {
            use product_search_term::{Column as T, Entity as Terms};
            let rows: Vec<(i64, i64)> = Terms::find()
                .select_only()
                .column(T::Term)
                .column_as(Expr::col(T::ProductId).count(), "n")
                .filter(T::Term.is_in(missing.clone()))
                .group_by(T::Term)
                .into_tuple()
                .all(db)
                .await?;
            for t in missing {
                let n = rows.iter().find(|(term, _)| *term == t).map_or(0, |r| r.1);
                self.counts.insert(t, u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(terms
            .iter()
            .copied()
            .min_by_key(|t| (self.counts.get(t).unwrap_or(0), *t))
            .unwrap_or_default())
    }
}

/// One search result.
#[derive(Clone, Debug)]
pub struct Hit {
    pub product: product::Model,
    /// The sum of the weights of the query's terms in the product.
    pub score: i64,
    /// Whether the product has images (to skip looking them up).
    pub has_images: bool,
}

/// The best `limit` matches among products meeting `visible` (a condition
/// on `products`), after `after`, best first, in one statement.
///
/// One term walks `ix_product_search_terms_rank` (term, weight desc,
/// product) in score order and stops at `limit` visible products. Several
/// drive from the term in the fewest products (the rarest) and look the
/// others up by (term, product) for each candidate. The lookups and the
/// visibility check are scalar subqueries, which neither engine turns into
/// joins: the plan stays "walk one posting list, probe by key" whatever the
/// planner guesses (PostgreSQL's generic plans for prepared statements guess
/// badly: a hash join over a common term took seconds).
pub async fn search<C: ConnectionTrait>(
    db: &C,
    stats: &TermStats,
    query: &SearchQuery,
    visible: Condition,
    after: Option<After>,
    limit: u64,
) -> Result<Vec<Hit>, DbErr> {
    use product_search_term::{Column as T, Entity as Terms};
    let lead = match query.terms.as_slice() {
        [only] => *only,
        terms => stats.rarest(db, terms).await?,
    };
    let driver = Alias::new("t0");
    let candidate = || Expr::col((driver.clone(), T::ProductId));
    let shown = Query::select()
        .expr(Expr::val(1))
        .from(product::Entity)
        .and_where(Expr::col((product::Entity, product::Column::Id)).eq(candidate()))
        .cond_where(visible)
        .to_owned();
    let mut statement = Query::select();
    statement
        .expr_as(candidate(), Alias::new("product_id"))
        .from_as(Terms, driver.clone())
        .and_where(Expr::col((driver.clone(), T::Term)).eq(lead))
        .and_where(
            SimpleExpr::SubQuery(None, Box::new(shown.into_sub_query_statement())).is_not_null(),
        );
    let mut score: SimpleExpr = Expr::col((driver.clone(), T::Weight));
    for (n, term) in query.terms.iter().filter(|t| **t != lead).enumerate() {
        let alias = Alias::new(format!("t{}", n + 1));
        let weight = SimpleExpr::SubQuery(
            None,
            Box::new(
                Query::select()
                    .expr(Expr::col((alias.clone(), T::Weight)))
                    .from_as(Terms, alias.clone())
                    .and_where(Expr::col((alias.clone(), T::Term)).eq(*term))
                    .and_where(Expr::col((alias.clone(), T::ProductId)).eq(candidate()))
                    .to_owned()
                    .into_sub_query_statement(),
            ),
        );
        statement.and_where(weight.clone().is_not_null());
        score = score.add(weight);
    }
    if let Some(after) = after {
        statement.cond_where(
            Condition::any().add(score.clone().lt(after.score)).add(
                Condition::all()
                    .add(score.clone().eq(after.score))
                    .add(candidate().gt(after.product.as_uuid())),
            ),
        );
    }
    if query.terms.len() == 1 {
        // The rank index's own order.
        statement.order_by((driver.clone(), T::Weight), Order::Desc);
    } else {
        statement.order_by(Alias::new("score"), Order::Desc);
    }
    statement
        .order_by((driver.clone(), T::ProductId), Order::Asc)
        // A weight is an integer; sums of them are bigints on PostgreSQL.
        .expr_as(score.cast_as(Alias::new("BIGINT")), Alias::new("score"))
        .limit(limit);
    // The page's products in the same round trip: the ranked page is a
    // subquery with its own LIMIT, so neither engine flattens it, and each
    // hit is one primary-key probe.
    let hits = Alias::new("hits");
    let page = Query::select()
        .column((product::Entity, Asterisk))
        .expr_as(
            Expr::col((hits.clone(), Alias::new("score"))),
            Alias::new("score"),
        )
        .expr_as(
            SimpleExpr::SubQuery(
                None,
                Box::new(
                    Query::select()
                        .expr(Expr::col(product_image::Column::ProductId).count())
                        .from(product_image::Entity)
                        .and_where(
                            Expr::col((product_image::Entity, product_image::Column::ProductId))
                                .equals((product::Entity, product::Column::Id)),
                        )
                        .to_owned()
                        .into_sub_query_statement(),
                ),
            ),
            Alias::new("images"),
        )
        .from_subquery(statement, hits.clone())
        .inner_join(
            product::Entity,
            Expr::col((product::Entity, product::Column::Id))
                .equals((hits.clone(), Alias::new("product_id"))),
        )
        .order_by((hits.clone(), Alias::new("score")), Order::Desc)
        .order_by((hits, Alias::new("product_id")), Order::Asc)
        .to_owned();
    db.query_all(&page)
        .await?
        .into_iter()
        .map(|row| {
            Ok(Hit {
                product: product::Model::from_query_result(&row, "")?,
                score: row.try_get("", "score")?,
                has_images: row.try_get::<i64>("", "images")? > 0,
            })
        })
        .collect()
}

/// Writes `product`'s index rows (replacing any), in the caller's transaction.
pub async fn index<C: ConnectionTrait>(
    db: &C,
    product: &product::Model,
    shop_name: &str,
) -> Result<(), DbErr> {
    product_search_term::Entity::delete_many()
        .filter(product_search_term::Column::ProductId.eq(product.id))
        .exec(db)
        .await?;
    let rows: Vec<product_search_term::ActiveModel> =
        product_terms(&product.title, shop_name, &product.description)
            .into_iter()
            .map(|(term, weight)| product_search_term::ActiveModel {
                term: Set(term),
                product_id: Set(product.id),
                weight: Set(weight),
            })
            .collect();
    // Three values a row: well under both engines' bound-parameter limits.
    for chunk in rows.chunks(1000) {
        product_search_term::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    if product.search_version != VERSION {
        product::Entity::update_many()
            .col_expr(product::Column::SearchVersion, Expr::value(VERSION))
            .filter(product::Column::Id.eq(product.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Re-indexes every product of a merchant (its shop name changed).
pub async fn index_merchant<C: ConnectionTrait>(
    db: &C,
    merchant: MerchantId,
    shop_name: &str,
) -> Result<(), DbErr> {
    let products = product::Entity::find()
        .filter(product::Column::MerchantId.eq(merchant))
        .all(db)
        .await?;
    for p in products {
        index(db, &p, shop_name).await?;
    }
    Ok(())
}

/// Indexes the products an older tokenizer (or none) indexed, a batch at a
/// time; returns how many. Safe with several instances at once: each product
/// is claimed by the conditional update of its version before it is read.
pub async fn catch_up(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let mut done = 0;
    loop {
        let stale: Vec<ProductId> = product::Entity::find()
            .select_only()
            .column(product::Column::Id)
            .filter(product::Column::SearchVersion.ne(VERSION))
            .limit(200)
            .into_tuple()
            .all(db)
            .await?;
        if stale.is_empty() {
            return Ok(done);
        }
        for id in stale {
            let txn = crate::kernel::db::begin_write(db).await?;
            let claimed = product::Entity::update_many()
                .col_expr(product::Column::SearchVersion, Expr::value(VERSION))
                .filter(product::Column::Id.eq(id))
                .filter(product::Column::SearchVersion.ne(VERSION))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if claimed && let Some(p) = product::Entity::find_by_id(id).one(&txn).await? {
                let shop_name = merchant::Entity::find_by_id(p.merchant_id)
                    .one(&txn)
                    .await?
                    .map(|m| m.shop_name)
                    .unwrap_or_default();
                index(&txn, &p, &shop_name).await?;
                done += 1;
            }
            txn.commit().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(s: &str) -> i64 {
        let c: Vec<char> = s.chars().collect();
        pack(&c)
    }

    #[test]
    fn a_title_is_indexed_as_its_triples_pairs_and_characters() {
        let terms = field_terms("连江海带");
        let expected: BTreeSet<i64> = [
            "连江海",
            "江海带",
            "连江",
            "江海",
            "海带",
            "连",
            "江",
            "海",
            "带",
        ]
        .map(term)
        .into();
        assert_eq!(terms, expected);
    }

    #[test]
    fn triples_pairs_and_characters_never_share_a_number() {
        let grams = [
            "a",
            "ab",
            "abc",
            "\u{10FFFF}",
            "\u{10FFFF}\u{1}",
            "\u{1}\u{1}\u{1}",
        ];
        let packed: BTreeSet<i64> = grams.map(term).into();
        assert_eq!(packed.len(), grams.len());
        assert!(packed.iter().all(|t| *t > 0));
    }

    #[test]
    fn a_word_of_three_or_more_characters_is_looked_up_by_its_triples() {
        assert_eq!(
            SearchQuery::parse("无添加").unwrap().terms,
            vec![term("无添加")]
        );
        let q = SearchQuery::parse("烟台苹果").unwrap();
        let expected: BTreeSet<i64> = ["烟台苹", "台苹果"].map(term).into();
        assert_eq!(q.terms, expected.into_iter().collect::<Vec<_>>());
        assert_eq!(
            SearchQuery::parse("苹果").unwrap().terms,
            vec![term("苹果")]
        );
    }

    #[test]
    fn full_width_and_capital_letters_are_the_same_as_plain_ones() {
        assert_eq!(field_terms("ＡＢＣ１２"), field_terms("abc12"));
        assert_eq!(field_terms("iPhone"), field_terms("iphone"));
    }

    #[test]
    fn punctuation_and_spaces_break_runs() {
        let terms = field_terms("苹果，香蕉");
        assert!(!terms.contains(&term("果香")));
        assert!(terms.contains(&term("苹果")));
    }

    #[test]
    fn a_term_in_title_and_description_weighs_both() {
        let w = product_terms("海带", "老王海产", "新鲜海带");
        assert_eq!(w[&term("海带")], TITLE + DESCRIPTION);
        assert_eq!(w[&term("海产")], SHOP_NAME);
    }

    #[test]
    fn a_query_needs_a_letter_or_digit_and_at_most_32_characters() {
        assert!(SearchQuery::parse(" ，。 ").is_err());
        assert!(SearchQuery::parse(&"海".repeat(33)).is_err());
        assert!(SearchQuery::parse(&"海".repeat(32)).is_ok());
    }

    #[test]
    fn a_one_character_word_is_looked_up_as_that_character() {
        let q = SearchQuery::parse("红 苹果").unwrap();
        assert_eq!(
            q.terms,
            vec![term("红"), term("苹果")]
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn repeated_pairs_in_a_query_count_once() {
        let q = SearchQuery::parse("海带 海带").unwrap();
        assert_eq!(q.terms, vec![term("海带")]);
    }

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let after = After {
            score: 7,
            product: ProductId::new(),
        };
        assert_eq!(After::decode(&after.encode()).ok(), Some(after));
        assert!(After::decode("abc").is_err());
    }
}
