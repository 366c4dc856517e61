//! Product search over 100,000 generated products, 32 connections, on SQLite
//! and (when ANJIA_BENCH_DATABASE_URL is set) PostgreSQL.
//!
//!     cargo bench --bench search
//!     ANJIA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench search
//!
//! For each engine: a fresh database (a temporary SQLite file; a database of
//! its own beside the URL's, dropped at the end), 50 shops verified in one
//! community through the API, then the products and their index rows written
//! in bulk (the index rows from the server's own tokenizer). Titles are made of
//! an origin, an adjective, one of ~130 goods or services and a pack size, so a
//! word like 苹果 is in about 1 in 130 titles and 新鲜 in about 1 in 15.
//! Rounds alternate, after a warm-up: a bare actix-web hello route (the
//! machine's baseline, in the same run), the mixed queries below and the
//! most common word alone on a server with the result cache off (every
//! request reaches the database), and the mixed queries on a second server
//! over the same database with the default one-second result cache.
//!
//! Environment: BENCH_PRODUCTS (default 100,000), BENCH_SECS (default 5),
//! BENCH_ROUNDS (default 5), BENCH_CONNECTIONS (default 32), BENCH_SQLITE_FILE (keep the
//! SQLite database there, to look at query plans), BENCH_KEEP_DATABASE (keep the PostgreSQL one),
//! BENCH_SKIP_SQLITE (PostgreSQL only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use anjia::catalog::search;
use anjia::startup::Application;
use entity::{CategoryId, Fen, MerchantId, ProductId, ProductKind, product, product_search_term};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, EntityTrait, Set, TransactionTrait};
use serde_json::{Value, json};
use support::{BenchDatabase, Target, env_or};

const ORIGINS: &[&str] = &[
    "烟台",
    "赣南",
    "海南",
    "新疆",
    "东北",
    "山东",
    "福建",
    "连江",
    "宁夏",
    "云南",
    "四川",
    "内蒙古",
    "阳澄湖",
    "五常",
    "舟山",
    "湛江",
    "洛川",
    "库尔勒",
    "丹东",
    "千岛湖",
];
const ADJECTIVES: &[&str] = &[
    "新鲜",
    "有机",
    "精选",
    "特级",
    "当季",
    "现摘",
    "冷鲜",
    "散养",
    "野生",
    "手工",
    "进口",
    "无添加",
    "低糖",
    "优质",
    "正宗",
];
/// (category root index, kind, words).
const WORDS: &[(usize, ProductKind, &[&str])] = &[
    (
        1,
        ProductKind::Goods,
        &[
            "苹果",
            "脐橙",
            "芒果",
            "香蕉",
            "草莓",
            "葡萄",
            "西瓜",
            "雪梨",
            "桃子",
            "樱桃",
            "蓝莓",
            "猕猴桃",
            "柚子",
            "荔枝",
            "龙眼",
            "大米",
            "小米",
            "面粉",
            "挂面",
            "鸡蛋",
            "鸭蛋",
            "牛奶",
            "酸奶",
            "豆腐",
            "土豆",
            "番茄",
            "黄瓜",
            "白菜",
            "菠菜",
            "芹菜",
            "茄子",
            "辣椒",
            "洋葱",
            "大蒜",
            "生姜",
            "胡萝卜",
            "玉米",
            "红薯",
            "南瓜",
            "蘑菇",
            "木耳",
            "海带",
            "紫菜",
            "虾仁",
            "带鱼",
            "黄鱼",
            "鲈鱼",
            "螃蟹",
            "扇贝",
            "生蚝",
            "牛肉",
            "羊肉",
            "猪肉",
            "排骨",
            "鸡翅",
            "鸡腿",
            "腊肉",
            "香肠",
            "花生油",
            "酱油",
            "米醋",
            "蜂蜜",
            "红枣",
            "核桃",
            "茶叶",
            "咖啡",
            "饺子",
            "汤圆",
            "包子",
            "馒头",
        ],
    ),
    (
        0,
        ProductKind::Goods,
        &[
            "T恤",
            "衬衫",
            "卫衣",
            "羽绒服",
            "毛衣",
            "睡衣",
            "袜子",
            "围巾",
            "手套",
            "运动鞋",
            "拖鞋",
            "雨衣",
        ],
    ),
    (
        2,
        ProductKind::Goods,
        &[
            "抽纸",
            "洗衣液",
            "洗洁精",
            "垃圾袋",
            "拖把",
            "床单",
            "枕头",
            "毛巾",
            "牙膏",
            "沐浴露",
            "洗发水",
            "电池",
            "灯泡",
            "插线板",
            "收纳箱",
            "晾衣架",
        ],
    ),
    (
        3,
        ProductKind::Goods,
        &[
            "自行车",
            "头盔",
            "雨伞",
            "充电宝",
            "车载支架",
            "洗车液",
            "打气筒",
        ],
    ),
    (
        4,
        ProductKind::Service,
        &[
            "家政保洁",
            "上门维修",
            "空调清洗",
            "油烟机清洗",
            "开锁换锁",
            "管道疏通",
            "搬家",
            "洗衣",
            "改衣",
            "理发",
            "宠物寄养",
            "家电回收",
            "上门喂猫",
            "钟点工",
        ],
    ),
];
const PACKS: &[&str] = &[
    "5斤装",
    "10斤装",
    "一箱",
    "500g",
    "2kg",
    "家庭装",
    "小份",
    "组合装",
    "12枚",
    "买一送一",
];
const PHRASES: &[&str] = &[
    "当天到货",
    "小区自提",
    "送货上门",
    "产地直发",
    "坏果包赔",
    "冷链配送",
    "新鲜采摘",
    "无农药残留",
    "老顾客推荐",
    "限时特价",
    "邻里专享",
    "品质保证",
    "支持开发票",
    "可预约时间",
    "师傅持证上岗",
    "售后无忧",
    "现做现卖",
    "营养丰富",
    "口感鲜甜",
    "量大从优",
];
const SURNAMES: &[&str] = &["王", "张", "李", "赵", "陈", "刘", "杨", "黄", "吴", "周"];
const TRADES: &[&str] = &["水果店", "生鲜超市", "粮油店", "海鲜铺", "日用百货"];

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: Value) -> Value {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let answer = support::one_request(port, &request).await;
    serde_json::from_slice(&answer).unwrap_or(Value::Null)
}

async fn token(port: u16, body: Value) -> String {
    call(port, "POST", "/api/v1/dev/login", None, body).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Starts the server on `url`; returns its port.
/// A server on `url`; `cache_ms` is its search result cache (0 = off).
fn start(url: &str, cache_ms: u64) -> u16 {
    let mut settings = support::dev_settings();
    settings.database.url = url.to_owned();
    settings.server.port = 0;
    settings.server.workers = 0;
    settings.jobs.enabled = false;
    settings.outbox.worker = false;
    settings.log.level = "warn".into();
    settings.search.result_cache_ms = cache_ms;
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Application::build(settings).await.unwrap();
            port_tx.send(app.port()).unwrap();
            app.run().await.unwrap();
        });
    });
    port_rx.recv().unwrap()
}

/// A community with 50 verified shops; returns (community, shops, a resident's token).
async fn community(port: u16) -> (String, Vec<(MerchantId, String)>, String) {
    let admin = token(
        port,
        json!({ "display_name": "bench", "operator_admin": true }),
    )
    .await;
    let community = call(
        port,
        "POST",
        "/api/v1/communities",
        Some(&admin),
        json!({ "name": "搜索压测小区", "address": "福州" }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let manager = token(
        port,
        json!({ "display_name": "经理", "staff_roles": [{ "community_id": community, "role": "manager" }] }),
    )
    .await;
    let until = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let mut shops = Vec::new();
    for n in 0..50 {
        let name = format!(
            "{}记{}{}",
            SURNAMES[n % SURNAMES.len()],
            TRADES[n / SURNAMES.len() % TRADES.len()],
            n
        );
        let owner = token(port, json!({ "display_name": format!("店主{n}") })).await;
        let shop = call(
            port,
            "POST",
            "/api/v1/merchants",
            Some(&owner),
            json!({
                "shop_name": name, "business_scope": "零售", "categories": ["食"],
                "location_kind": "shop", "address": "底商", "contact_phone": "13812340001",
                "owner_name": "王五", "owner_id_number": "11010519491231002X",
                "community_ids": [community],
            }),
        )
        .await;
        let id = shop["id"].as_str().unwrap().to_owned();
        let c = format!("/api/v1/communities/{community}/merchants/{id}");
        call(
            port,
            "POST",
            &format!("{c}/visits"),
            Some(&manager),
            json!({ "notes": "ok" }),
        )
        .await;
        let verified = call(
            port,
            "POST",
            &format!("{c}/verify"),
            Some(&manager),
            json!({ "valid_until": until }),
        )
        .await;
        assert!(verified.is_object(), "verifying: {verified}");
        shops.push((MerchantId::from_uuid(id.parse().unwrap()), name));
    }
    (community, shops, manager)
}

/// Writes `count` generated products and their index rows.
async fn generate(url: &str, shops: &[(MerchantId, String)], count: usize) {
    let db = Database::connect(url).await.unwrap();
    let roots: Vec<CategoryId> = (1..=5u128)
        .map(|n| {
            CategoryId::from_uuid(uuid::Uuid::from_u128(
                0x0196_0000_0000_7000_8000_0000_0000_0000 + n,
            ))
        })
        .collect();
    let mut rng = StdRng::seed_from_u64(7);
    let now = chrono::Utc::now();
    let pick = |rng: &mut StdRng, words: &[&'static str]| words[rng.random_range(0..words.len())];
    let mut made = 0;
    while made < count {
        let txn = db.begin().await.unwrap();
        let mut products = Vec::new();
        let mut terms = Vec::new();
        for _ in 0..1000.min(count - made) {
            let (root, kind, words) = WORDS[match rng.random_range(0..100) {
                0..70 => 0,
                70..80 => 1,
                80..90 => 2,
                90..94 => 3,
                _ => 4,
            }];
            let word = pick(&mut rng, words);
            let mut title = String::new();
            if kind == ProductKind::Goods && rng.random_bool(0.5) {
                title.push_str(pick(&mut rng, ORIGINS));
            }
            if rng.random_bool(0.5) {
                title.push_str(pick(&mut rng, ADJECTIVES));
            }
            title.push_str(word);
            if kind == ProductKind::Goods && rng.random_bool(0.5) {
                title.push(' ');
                title.push_str(pick(&mut rng, PACKS));
            }
            let description = (0..rng.random_range(2..4))
                .map(|_| pick(&mut rng, PHRASES))
                .collect::<Vec<_>>()
                .join("，");
            let (merchant, shop_name) = &shops[rng.random_range(0..shops.len())];
            let id = ProductId::new();
            for (term, weight) in search::product_terms(&title, shop_name, &description) {
                terms.push(product_search_term::ActiveModel {
                    term: Set(term),
                    product_id: Set(id),
                    weight: Set(weight),
                });
            }
            products.push(product::ActiveModel {
                id: Set(id),
                merchant_id: Set(*merchant),
                category_id: Set(roots[root]),
                kind: Set(kind),
                title: Set(title),
                description: Set(description),
                unit: Set("份".into()),
                price: Set(Fen::new(rng.random_range(100..50_000)).unwrap()),
                original_price: Set(None),
                stock: Set((kind == ProductKind::Goods).then(|| {
                    if rng.random_bool(0.1) {
                        0
                    } else {
                        rng.random_range(1..500)
                    }
                })),
                sort_order: Set(0),
                on_shelf: Set(rng.random_bool(0.95)),
                search_version: Set(search::VERSION),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        made += products.len();
        product::Entity::insert_many(products)
            .exec_without_returning(&txn)
            .await
            .unwrap();
        for chunk in terms.chunks(3000) {
            product_search_term::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await
                .unwrap();
        }
        txn.commit().await.unwrap();
    }
    db.execute_unprepared("ANALYZE").await.unwrap();
}

/// The mixed queries: one word, origin + word, an adjective, one character,
/// a shop name, a word with filters, a word found nowhere.
fn queries(shops: &[(MerchantId, String)]) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(11);
    let mut out = Vec::new();
    for n in 0..1000 {
        let (_, _, words) = WORDS[n % WORDS.len()];
        let word = words[rng.random_range(0..words.len())];
        let q = match n % 7 {
            0 | 1 => format!("q={}", encode(word)),
            2 => format!(
                "q={}",
                encode(&format!(
                    "{}{word}",
                    ORIGINS[rng.random_range(0..ORIGINS.len())]
                ))
            ),
            3 => format!(
                "q={}",
                encode(ADJECTIVES[rng.random_range(0..ADJECTIVES.len())])
            ),
            4 => format!("q={}", encode(&word.chars().take(1).collect::<String>())),
            5 => format!(
                "q={}&in_stock=true&max_price=10000",
                encode(
                    &shops[rng.random_range(0..shops.len())]
                        .1
                        .chars()
                        .take(2)
                        .collect::<String>()
                )
            ),
            _ => format!("q={}", encode(["火箭", "钢琴", "飞机票"][n % 3])),
        };
        out.push(q);
    }
    out
}

fn get(path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}

async fn engine(name: &str, url: &str, hello: u16) {
    let products: usize = env_or("BENCH_PRODUCTS", 100_000);
    let secs: u64 = env_or("BENCH_SECS", 5);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let connections: usize = env_or("BENCH_CONNECTIONS", 32);

    // Measured without the result cache: every request goes to the database.
    let port = start(url, 0);
    let (community, shops, token) = community(port).await;
    let started = Instant::now();
    generate(url, &shops, products).await;
    println!(
        "\n{name}: {products} products and their index rows written in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let path = format!("/api/v1/communities/{community}/products/search?");
    let probe = support::one_request(
        port,
        std::str::from_utf8(&get(&format!("{path}q={}", encode("苹果")), &token)).unwrap(),
    )
    .await;
    let probe: Value = serde_json::from_slice(&probe).unwrap();
    assert!(
        probe["items"].as_array().is_some_and(|a| !a.is_empty()),
        "probe: {probe}"
    );
    let mixed: Vec<Vec<u8>> = queries(&shops)
        .iter()
        .map(|q| get(&format!("{path}{q}"), &token))
        .collect();
    // The deployed default: a second server on the same database, answering
    // repeats within a second from its result cache.
    let cached = start(url, 1000);
    let targets = [
        Target::get("hello (bare actix-web)", hello, "/", None),
        Target::pool("search, mixed queries", port, mixed.clone()),
        Target::pool(
            "search, mixed queries, 1 s result cache (default)",
            cached,
            mixed,
        ),
        Target::raw(
            "search, 新鲜 (most common word)",
            port,
            get(&format!("{path}q={}", encode("新鲜")), &token),
        ),
    ];
    println!("{name}: {connections} connections, {rounds} rounds x {secs}s, medians of rounds");
    let results =
        support::run_rounds(&targets, connections, Duration::from_secs(secs), rounds).await;
    support::report(&results, 0);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let hello = support::hello_server();
        let dir = tempfile::tempdir().unwrap();
        // BENCH_SQLITE_FILE keeps the SQLite database for a look at query plans.
        let file = std::env::var("BENCH_SQLITE_FILE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| dir.path().join("search.db"));
        let sqlite = format!("sqlite://{}?mode=rwc", file.display());
        if std::env::var("BENCH_SKIP_SQLITE").is_err() {
            engine("SQLite", &sqlite, hello).await;
        }

        let Ok(admin_url) = std::env::var("ANJIA_BENCH_DATABASE_URL") else {
            println!("\n(set ANJIA_BENCH_DATABASE_URL=postgres://… to run PostgreSQL as well)");
            return;
        };
        let bench_db = BenchDatabase::create(&admin_url).await;
        engine("PostgreSQL", &bench_db.url, hello).await;
        if std::env::var("BENCH_KEEP_DATABASE").is_ok() {
            println!("\nkept PostgreSQL database {}", bench_db.name);
        } else {
            bench_db.drop().await;
        }
    });
}
