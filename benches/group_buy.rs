//! Joins on one hot group buy (PostgreSQL), against pgbench running the same
//! SQL transaction on the same database in the same run.
//!
//!     ANJIA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench group_buy
//!
//! The URL names a server and a database to connect to; the bench creates a
//! database of its own beside it and drops it at the end. Rounds alternate:
//! BENCH_CONNECTIONS (default 1,000) HTTP connections each joining in a
//! closed loop (the full request: token, the group buy and its items, the
//! household's address, then the transaction), then pgbench with as many
//! clients as the server's pool (BENCH_POOL, default 16) running only the
//! transaction: insert the order, its line and its event, take the stock with
//! the guarded update, commit. Finally an oversell check: 3,000 joins at once
//! against a stock of 1,000 must sell exactly 1,000.
//!
//! Environment: BENCH_SECS (default 5), BENCH_ROUNDS (default 5),
//! BENCH_CONNECTIONS, BENCH_POOL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use anjia::startup::Application;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use support::{BenchDatabase, RoundStats, Target, env_or, median_round};

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

fn join_request(path: &str, token: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The same transaction the server runs for one join, for pgbench.
fn pgbench_script(ids: &Value) -> String {
    let s = |k: &str| ids[k].as_str().unwrap().to_owned();
    let (community, group, item, user, household, point) = (
        s("community"),
        s("group"),
        s("item"),
        s("user"),
        s("household"),
        s("point"),
    );
    let oid = "md5('o' || :client_id || '-' || :n)::uuid";
    format!(
        r#"\set n random(1, 1000000000000)
BEGIN;
INSERT INTO orders (id, order_no, community_id, merchant_id, group_buy_id, user_id, household_id, status, amount, payment_method, paid_at, payment_deadline, fulfilment, pickup_point_id, pickup_slot_id, pickup_reminded_at, slot_reminded_at, address, address_remark, delivery_time, courier_id, processed_at, processed_by, status_reason, intro, client_ip, user_agent, client_kind, idempotency_key, request_hash, fulfilled_at, confirmed_at, created_at, updated_at) VALUES ({oid}, 'pg' || :client_id || '-' || :n, '{community}', NULL, '{group}', '{user}', '{household}', 'pending_payment', 500, NULL, NULL, now() + interval '15 minutes', 'pickup', '{point}', NULL, NULL, NULL, '1号楼 101', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '127.0.0.1', 'pgbench', 'other', NULL, NULL, NULL, NULL, now(), now());
INSERT INTO order_lines (id, order_id, product_id, group_buy_item_id, title, unit, unit_price, quantity, amount) VALUES (md5('l' || :client_id || '-' || :n)::uuid, {oid}, NULL, '{item}', '草莓', '盒', 500, 1, 500);
INSERT INTO order_events (id, order_id, actor_id, actor_role, from_status, to_status, reason, created_at) VALUES (md5('e' || :client_id || '-' || :n)::uuid, {oid}, '{user}', 'resident', NULL, 'pending_payment', NULL, now());
UPDATE group_buy_items SET stock = stock - 1 WHERE id = '{item}' AND stock >= 1;
COMMIT;
"#
    )
}

fn pgbench(url: &str, script: &std::path::Path, clients: usize, secs: u64) -> f64 {
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
        ])
        .arg(script)
        .arg(url)
        .output()
        .expect("pgbench (apt install postgresql-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pgbench failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l[6..].split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench output: {text}"))
}

fn main() {
    let Ok(admin_url) = std::env::var("ANJIA_BENCH_DATABASE_URL") else {
        eprintln!("set ANJIA_BENCH_DATABASE_URL=postgres://… (this bench compares with pgbench)");
        return;
    };
    let secs: u64 = env_or("BENCH_SECS", 5);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let connections: usize = env_or("BENCH_CONNECTIONS", 1000);
    let pool: u32 = env_or("BENCH_POOL", 16);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let bench_db = BenchDatabase::create(&admin_url).await;
        let (name, url) = (bench_db.name.clone(), bench_db.url.clone());

        let mut settings = support::dev_settings();
        settings.database.url = url.clone();
        settings.database.max_connections = pool;
        settings.server.port = 0;
        settings.server.workers = 0;
        settings.jobs.enabled = false;
        settings.outbox.worker = false;
        settings.log.level = "warn".into();
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app = Application::build(settings).await.unwrap();
                port_tx.send(app.port()).unwrap();
                app.run().await.unwrap();
            });
        });
        let port = port_rx.recv().unwrap();

        // A community, 100 verified households, a pickup point, one hot group buy.
        let admin_token = call(port, "POST", "/api/v1/dev/login", None,
            json!({ "display_name": "bench", "operator_admin": true })).await["access_token"]
            .as_str().unwrap().to_owned();
        let t = Some(admin_token.as_str());
        let community = call(port, "POST", "/api/v1/communities", t,
            json!({ "name": format!("压测小区{name}"), "address": "福州" })).await["id"]
            .as_str().unwrap().to_owned();
        let c = format!("/api/v1/communities/{community}");
        let building = call(port, "POST", &format!("{c}/buildings"), t, json!({ "name": "1号楼" })).await["id"]
            .as_str().unwrap().to_owned();
        let point = call(port, "POST", &format!("{c}/pickup-points"), t, json!({
            "name": "大堂", "location": "1号楼",
            "opening_hours": [{ "weekdays": [1,2,3,4,5,6,7], "opens": "08:00", "closes": "20:00" }] })).await["id"]
            .as_str().unwrap().to_owned();
        let new_group = |stock: i64| json!({
            "title": "压测草莓", "min_households": 1,
            "deadline": (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339(),
            "pickup_point_ids": [point], "publish": true,
            "items": [{ "title": "草莓", "unit": "盒", "price": 500, "stock": stock }] });
        let hot = call(port, "POST", &format!("{c}/group-buys"), t, new_group(1_000_000)).await;
        assert!(hot["id"].is_string(), "creating the group buy: {hot}");
        let mut residents = Vec::new();
        for n in 0..100 {
            let h = call(port, "POST", &format!("{c}/households"), t,
                json!({ "building_id": building, "room": format!("{}", 1000 + n) })).await["id"]
                .as_str().unwrap().to_owned();
            let login = call(port, "POST", "/api/v1/dev/login", None,
                json!({ "households": [{ "household_id": h, "role": "owner" }] })).await;
            residents.push((login["access_token"].as_str().unwrap().to_owned(),
                login["user_id"].as_str().unwrap().to_owned(), h));
        }
        let join_body = |g: &Value| json!({
            "items": [{ "item_id": g["items"][0]["id"], "quantity": 1 }],
            "receiving": { "fulfilment": "pickup", "pickup_point_id": point } });
        let hot_path = format!("{c}/group-buys/{}/orders", hot["id"].as_str().unwrap());
        let requests: Vec<Vec<u8>> = residents
            .iter()
            .map(|(token, _, _)| join_request(&hot_path, token, &join_body(&hot)))
            .collect();
        let probe = call(port, "POST", &hot_path, Some(&residents[0].0), join_body(&hot)).await;
        assert_eq!(probe["status"], "pending_payment", "{probe}");
        let joins = Target::pool("HTTP joins (anjia)", port, requests);

        let ids = json!({ "community": community, "group": hot["id"], "item": hot["items"][0]["id"],
            "user": residents[0].1, "household": residents[0].2, "point": point });
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("join.sql");
        std::fs::write(&script, pgbench_script(&ids)).unwrap();

        println!(
            "group-buy join benchmark: {connections} HTTP connections vs pgbench with {pool} clients (the server's pool), {rounds} rounds x {secs}s, PostgreSQL"
        );
        support::load(&joins, connections.min(200), Duration::from_secs(1)).await;
        pgbench(&url, &script, pool as usize, 1);
        let mut http: Vec<RoundStats> = Vec::new();
        let mut pg: Vec<f64> = Vec::new();
        for _ in 0..rounds {
            http.push(support::load(&joins, connections, Duration::from_secs(secs)).await);
            let url = url.clone();
            let script = script.clone();
            let tps = tokio::task::spawn_blocking(move || pgbench(&url, &script, pool as usize, secs))
                .await
                .unwrap();
            pg.push(tps);
        }
        let m = median_round(&http);
        let mut sorted = pg.clone();
        sorted.sort_by(f64::total_cmp);
        let pg_median = sorted[sorted.len() / 2];
        let errors: u64 = http.iter().map(|r| r.errors).sum();
        println!();
        println!("| target | median per s | vs pgbench | p50 ms | p99 ms | errors | rounds |");
        println!("|---|---:|---:|---:|---:|---:|---|");
        println!(
            "| pgbench, the join transaction | {pg_median:.0} | 100% | | | | {} |",
            pg.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(", ")
        );
        println!(
            "| HTTP joins | {:.0} | {:.0}% | {:.1} | {:.1} | {errors} | {} |",
            m.rps,
            100.0 * m.rps / pg_median,
            m.p50_ms,
            m.p99_ms,
            http.iter().map(|r| format!("{:.0}", r.rps)).collect::<Vec<_>>().join(", ")
        );

        // Oversell: 3,000 joins at once against a stock of 1,000.
        let small = call(port, "POST", &format!("{c}/group-buys"), t, new_group(1000)).await;
        let small_path = format!("{c}/group-buys/{}/orders", small["id"].as_str().unwrap());
        let burst: Vec<_> = (0..3000)
            .map(|i| {
                let request = String::from_utf8(join_request(
                    &small_path,
                    &residents[i % residents.len()].0,
                    &join_body(&small),
                ))
                .unwrap();
                tokio::spawn(async move { support::one_request(port, &request).await })
            })
            .collect();
        let (mut sold, mut sold_out, mut other) = (0, 0, 0);
        for b in burst {
            let body: Value = serde_json::from_slice(&b.await.unwrap()).unwrap_or(Value::Null);
            match (body["status"].as_str(), body["code"].as_str()) {
                (Some("pending_payment"), _) => sold += 1,
                (_, Some("sold_out")) => sold_out += 1,
                _ => other += 1,
            }
        }
        let left = admin_rows(&url, small["items"][0]["id"].as_str().unwrap()).await;
        println!(
            "\noversell check: 3,000 joins at once against stock 1,000 -> {sold} orders, {sold_out} sold_out, {other} other; stock left {left}; oversell {}",
            sold as i64 - 1000 + left
        );
        bench_db.drop().await;
    });
}

async fn admin_rows(url: &str, item: &str) -> i64 {
    let db = Database::connect(url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!("SELECT stock FROM group_buy_items WHERE id = '{item}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "stock").unwrap()
}
