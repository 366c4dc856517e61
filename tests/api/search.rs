//! Product search (模糊搜索): Chinese keywords without word boundaries,
//! relevance, the listing's filters, paging, and the index following edits.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::fixtures::{food, merchant_named, verify};
use crate::support::{Session, TestApp, assert_error, spawn_app, spawn_app_with, status_and_json};

struct Shop {
    owner: Session,
    id: String,
}

impl Shop {
    async fn open(app: &TestApp, name: &str, community: Uuid, verified: bool) -> Self {
        let (owner, id) = merchant_named(app, name, &[community]).await;
        if verified {
            verify(app, community, &id).await;
        }
        Self { owner, id }
    }

    async fn product(&self, app: &TestApp, body: Value) -> String {
        let (status, p) = status_and_json(
            app.post(
                &format!("/api/v1/merchants/{}/products", self.id),
                Some(&self.owner.access),
                body,
            )
            .await,
        )
        .await;
        assert_eq!(status, 201, "{p}");
        p["id"].as_str().unwrap().to_owned()
    }

    async fn change(&self, app: &TestApp, product: &str, body: Value) {
        let res = app
            .request(
                reqwest::Method::PATCH,
                &format!("/api/v1/merchants/{}/products/{product}", self.id),
                Some(&self.owner.access),
                Some(body),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
}

fn goods(category: &str, title: &str, description: &str, price: i64, stock: i64) -> Value {
    json!({
        "kind": "goods", "category_id": category, "title": title, "description": description,
        "unit": "份", "price": price, "stock": stock,
    })
}

struct Searcher<'a> {
    app: &'a TestApp,
    community: Uuid,
    who: Session,
}

impl Searcher<'_> {
    async fn page(&self, query: &str) -> Value {
        let (status, page) = status_and_json(
            self.app
                .get(
                    &format!(
                        "/api/v1/communities/{}/products/search?{query}",
                        self.community
                    ),
                    Some(&self.who.access),
                )
                .await,
        )
        .await;
        assert_eq!(status, 200, "{query}: {page}");
        page
    }

    /// The titles found for `query`, best first.
    async fn titles(&self, query: &str) -> Vec<String> {
        self.page(query).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

struct Market<'a> {
    searcher: Searcher<'a>,
    fishery: Shop,
    orchard: Shop,
    food: String,
    seafood: String,
    apples: String,
}

/// Two verified shops and one that is not, in one community:
/// 连江渔家 sells 连江海带 and 紫菜; 城东果园 sells 海带结, 苹果 (sold out)
/// and a cleaning service; the unverified shop sells 海带丝.
async fn market(app: &TestApp) -> Market<'_> {
    let community = app
        .community(&format!("搜索小区{}", Uuid::now_v7().simple()))
        .await;
    let admin = app.operator_admin().await;
    let food = food(app, &admin).await;
    let (status, seafood) = status_and_json(
        app.post(
            "/api/v1/categories",
            Some(&admin.access),
            json!({ "name": format!("海产{}", &Uuid::now_v7().simple().to_string()[..6]), "parent_id": food }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{seafood}");
    let seafood = seafood["id"].as_str().unwrap().to_owned();
    let (_, tree) = status_and_json(app.get("/api/v1/categories", Some(&admin.access)).await).await;
    let services = tree[4]["id"].as_str().unwrap().to_owned();

    let fishery = Shop::open(app, "连江渔家", community, true).await;
    fishery
        .product(app, goods(&seafood, "连江海带", "深海养殖，肉厚", 1500, 40))
        .await;
    fishery
        .product(app, goods(&seafood, "紫菜", "连江产的头水紫菜", 2500, 10))
        .await;
    let orchard = Shop::open(app, "城东果园", community, true).await;
    orchard
        .product(app, goods(&food, "海带结", "凉拌佳品", 800, 5))
        .await;
    let apples = orchard
        .product(app, goods(&food, "苹果 iPhone 同款红", "红富士", 600, 0))
        .await;
    orchard
        .product(
            app,
            json!({
                "kind": "service", "category_id": services, "title": "上门清洗空调",
                "description": "师傅自带工具", "unit": "次", "price": 9900,
            }),
        )
        .await;
    let unverified = Shop::open(app, "新来的海鲜铺", community, false).await;
    unverified
        .product(app, goods(&seafood, "海带丝", "", 500, 10))
        .await;

    let searcher = Searcher {
        app,
        community,
        who: app.staff(community, "customer_service").await,
    };
    Market {
        searcher,
        fishery,
        orchard,
        food,
        seafood,
        apples,
    }
}

#[tokio::test]
async fn search_finds_chinese_words_inside_titles_shop_names_and_descriptions_title_first() {
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    // Inside a longer title, without spaces; only verified shops' products.
    assert_eq!(s.titles("q=海带").await, ["连江海带", "海带结"]);
    // Title and shop name (5) before shop name and description (3).
    assert_eq!(s.titles("q=连江").await, ["连江海带", "紫菜"]);
    // Shop name alone.
    assert_eq!(s.titles("q=果园").await.len(), 3);
    // One character: any word starting or ending with it; 连江海带 also
    // has 海 in its description (深海养殖), so it ranks first.
    assert_eq!(s.titles("q=海").await, ["连江海带", "海带结"]);
    // A longer word must occur as written (each three neighbours of it):
    // 带结海 does not, and 江海带 is only in 连江海带.
    assert!(s.titles("q=带结海").await.is_empty());
    assert_eq!(s.titles("q=江海带").await, ["连江海带"]);
    assert_eq!(s.titles("q=连江海带").await, ["连江海带"]);
    assert_eq!(s.titles("q=海带结").await, ["海带结"]);
    // Full-width and capital letters, punctuation between words.
    assert_eq!(s.titles("q=ＩＰＨＯＮＥ").await, ["苹果 iPhone 同款红"]);
    assert_eq!(s.titles("q=苹果，iphone").await, ["苹果 iPhone 同款红"]);
    assert_eq!(s.titles("q=%20上门%20空调%20").await, ["上门清洗空调"]);
}

#[tokio::test]
async fn search_takes_the_category_merchant_price_kind_and_stock_filters() {
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    // A category includes the categories under it.
    let food = &m.food;
    assert_eq!(
        s.titles(&format!("q=海带&category_id={food}")).await,
        ["连江海带", "海带结"]
    );
    let seafood = &m.seafood;
    assert_eq!(
        s.titles(&format!("q=海带&category_id={seafood}")).await,
        ["连江海带"]
    );
    let orchard = &m.orchard.id;
    assert_eq!(
        s.titles(&format!("q=海带&merchant_id={orchard}")).await,
        ["海带结"]
    );
    assert_eq!(s.titles("q=海带&min_price=1000").await, ["连江海带"]);
    assert_eq!(s.titles("q=海带&max_price=800").await, ["海带结"]);
    assert!(
        s.titles("q=海带&min_price=801&max_price=1499")
            .await
            .is_empty()
    );
    assert_eq!(s.titles("q=果园&kind=service").await, ["上门清洗空调"]);
    // The apples are sold out.
    assert_eq!(s.titles("q=果园&in_stock=true").await.len(), 2);
    assert_eq!(s.titles("q=果园&in_stock=false").await.len(), 3);
    // The listing takes the same filters.
    let (_, page) = status_and_json(
        app.get(
            &format!(
                "/api/v1/communities/{}/products?in_stock=true&max_price=2000&category_id={food}",
                s.community
            ),
            Some(&s.who.access),
        )
        .await,
    )
    .await;
    let mut listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, ["海带结", "连江海带"]);
}

#[tokio::test]
async fn search_results_page_through_in_relevance_order_without_repeats() {
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    for n in 0..5 {
        m.fishery
            .product(
                &app,
                goods(&m.seafood, &format!("海鲜礼盒{n}号"), "", 9000 + n, 3),
            )
            .await;
    }
    // One character (every row adds up), one pair (the rank index), and
    // several pairs (driven by the rarest): each pages the same as it lists.
    for (q, expected) in [("海", 7), ("海鲜", 5), ("鲜礼盒", 5), ("海鲜 号", 5)] {
        let all = s.titles(&format!("q={q}&limit=100")).await;
        assert_eq!(all.len(), expected, "{q}: {all:?}");
        let mut paged = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("q={q}&limit=2&cursor={c}"),
                None => format!("q={q}&limit=2"),
            };
            let page = s.page(&query).await;
            for p in page["items"].as_array().unwrap() {
                paged.push(p["title"].as_str().unwrap().to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(paged, all, "{q}");
    }
}

#[tokio::test]
async fn the_index_follows_product_and_shop_name_changes() {
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    m.orchard
        .change(&app, &m.apples, json!({ "title": "阿克苏冰糖心" }))
        .await;
    assert!(s.titles("q=苹果").await.is_empty());
    assert_eq!(s.titles("q=冰糖").await, ["阿克苏冰糖心"]);
    // A price change leaves the index as it was.
    m.orchard
        .change(&app, &m.apples, json!({ "price": 700 }))
        .await;
    assert_eq!(s.titles("q=冰糖").await, ["阿克苏冰糖心"]);

    // A new shop name goes back to review; once verified again, the products
    // are found under the new name and not the old.
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/api/v1/merchants/{}", m.orchard.id),
            Some(&m.orchard.owner.access),
            Some(json!({ "shop_name": "城西菜场" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        s.titles("q=菜场").await.is_empty(),
        "not verified again yet"
    );
    verify(&app, s.community, &m.orchard.id).await;
    assert_eq!(s.titles("q=菜场").await.len(), 3);
    assert!(s.titles("q=果园").await.is_empty());
}

#[tokio::test]
async fn a_bad_search_gets_a_clear_error() {
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    let path = format!("/api/v1/communities/{}/products/search", s.community);
    for (query, code) in [
        ("", "invalid_query"),
        ("?q=", "invalid_query"),
        ("?q=%EF%BC%8C%E3%80%82", "invalid_query"),
        (&format!("?q={}", "海".repeat(33)) as &str, "invalid_query"),
        ("?q=海&limit=0", "invalid_query"),
        ("?q=海&min_price=-1", "invalid_query"),
        ("?q=海&cursor=not-ours", "invalid_cursor"),
    ] {
        let res = app
            .get(&format!("{path}{query}"), Some(&s.who.access))
            .await;
        assert_error(res, 400, code).await;
    }
}

#[tokio::test]
async fn products_a_newer_tokenizer_has_not_indexed_are_indexed_once_at_start() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let m = market(&app).await;
    let s = &m.searcher;
    app.db
        .execute_unprepared("DELETE FROM product_search_terms")
        .await
        .unwrap();
    app.db
        .execute_unprepared("UPDATE products SET search_version = 0")
        .await
        .unwrap();
    assert!(s.titles("q=海带").await.is_empty());
    // Two instances starting at once share the work; each product once.
    let (a, b) = tokio::join!(
        anjia::catalog::search::catch_up(&app.db),
        anjia::catalog::search::catch_up(&app.db)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 6);
    assert_eq!(s.titles("q=海带").await, ["连江海带", "海带结"]);
    assert_eq!(anjia::catalog::search::catch_up(&app.db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_repeated_search_is_answered_from_the_instance_result_cache_until_it_expires() {
    let app = spawn_app_with(|s| s.search.result_cache_ms = 60_000).await;
    let m = market(&app).await;
    let s = &m.searcher;
    assert_eq!(s.titles("q=苹果").await, ["苹果 iPhone 同款红"]);
    m.orchard
        .change(&app, &m.apples, json!({ "title": "阿克苏冰糖心" }))
        .await;
    // The same words (however written) and filters: the page built before.
    assert_eq!(s.titles("q=苹果").await, ["苹果 iPhone 同款红"]);
    assert_eq!(s.titles("q=%20苹果%20").await, ["苹果 iPhone 同款红"]);
    // Another query, other filters or another page size: built afresh.
    assert!(s.titles("q=苹果&kind=goods").await.is_empty());
    assert!(s.titles("q=苹果&limit=5").await.is_empty());
    assert_eq!(s.titles("q=冰糖").await, ["阿克苏冰糖心"]);
    // Nothing cached crosses communities: another community's residents
    // search their own shelves.
    let elsewhere = Searcher {
        app: &app,
        community: app
            .community(&format!("别处{}", Uuid::now_v7().simple()))
            .await,
        who: app.operator_admin().await,
    };
    assert!(elsewhere.titles("q=苹果").await.is_empty());
}
