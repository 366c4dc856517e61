//! Settlement of 100,000 confirmed orders on PostgreSQL.
//!
//!     ANJIA_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench settlement
//!
//! The bench creates a database of its own beside the one the URL names
//! (dropped at the end), fills it with the demo community and BENCH_ORDERS
//! (default 100,000) completed orders, each paid into escrow in the ledger,
//! then per round: a baseline (one set-based `UPDATE` of the same orders,
//! the least work any settlement must do) and the settlement job itself
//! (`anjia::settlement::service::settle_due` in batches of BENCH_BATCH, default
//! `payment.settlement_batch`, 5,000, until nothing is due), checked by `ledger::verify`; the round is then
//! undone for the next. Medians of BENCH_ROUNDS (default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Instant;

use anjia::ledger::Account;
use entity::{CommunityId, MerchantId};
use sea_orm::{ConnectionTrait, Statement};
use support::{BenchDatabase, env_or};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

async fn one_uuid(db: &sea_orm::DatabaseConnection, sql: &str) -> uuid::Uuid {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get("", "id")
    .unwrap()
}

fn main() {
    let Ok(admin_url) = std::env::var("ANJIA_BENCH_DATABASE_URL") else {
        eprintln!(
            "set ANJIA_BENCH_DATABASE_URL=postgres://… (settlement is measured on PostgreSQL)"
        );
        return;
    };
    let orders: u32 = env_or("BENCH_ORDERS", 100_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let bench_db = BenchDatabase::create(&admin_url).await;
        let mut settings = support::dev_settings();
        settings.database.url = bench_db.url.clone();
        // The job's own batch (`payment.settlement_batch`) unless told.
        let batch: u32 = env_or("BENCH_BATCH", settings.payment.settlement_batch);
        let db = anjia::kernel::db::connect(&settings.database).await.unwrap();
        anjia::kernel::db::migrate_up(&db).await.unwrap();
        let pii = anjia::pii::PiiCipher::from_settings(&settings.pii).unwrap();
        anjia::demo::seed(&db, &pii).await.unwrap();
        let community = one_uuid(&db, "SELECT id FROM communities LIMIT 1").await;
        let merchant = one_uuid(&db, "SELECT id FROM merchants LIMIT 1").await;
        let user = one_uuid(&db, "SELECT id FROM users LIMIT 1").await;
        let household = one_uuid(&db, "SELECT id FROM households LIMIT 1").await;
        let clearing = Account::wechat_clearing().id().as_uuid();
        let escrow = Account::escrow(CommunityId::from_uuid(community)).id().as_uuid();

        let started = Instant::now();
        let fill = [
            format!(
                "INSERT INTO orders (id, order_no, community_id, merchant_id, group_buy_id, user_id, household_id, status, amount, payment_method, paid_at, payment_deadline, fulfilment, pickup_point_id, pickup_slot_id, pickup_reminded_at, slot_reminded_at, address, address_remark, delivery_time, courier_id, processed_at, processed_by, status_reason, intro, client_ip, user_agent, client_kind, idempotency_key, request_hash, fulfilled_at, confirmed_at, created_at, updated_at) \
                 SELECT md5('o' || g)::uuid, 'B' || lpad(g::text, 19, '0'), '{community}', '{merchant}', NULL, '{user}', '{household}', 'completed', 1000 + g % 500, 'sandbox', now() - interval '3 days', now() - interval '3 days', 'delivery', NULL, NULL, NULL, NULL, '1号楼 101', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '127.0.0.1', 'bench', 'other', NULL, NULL, now() - interval '2 days', now() - interval '2 days' + (g || ' milliseconds')::interval, now(), now() \
                 FROM generate_series(1, {orders}) g"
            ),
            // Completed orders wait in the settlement queue (as `advance`
            // puts them there).
            "INSERT INTO settlement_queue (order_id, confirmed_at) SELECT id, confirmed_at FROM orders".to_owned(),
            format!(
                "INSERT INTO ledger_accounts (id, kind, owner_id, balance, created_at, updated_at) VALUES \
                 ('{clearing}', 'wechat_clearing', '00000000-0000-0000-0000-000000000000', 0, now(), now()), \
                 ('{escrow}', 'escrow', '{community}', 0, now(), now())"
            ),
            format!(
                "INSERT INTO journal_entries (id, kind, key, community_id, order_id, subject_id, memo, created_by, created_at) \
                 SELECT md5('e' || g)::uuid, 'payment', 'payment:' || md5('o' || g)::uuid, '{community}', md5('o' || g)::uuid, NULL, '', NULL, now() \
                 FROM generate_series(1, {orders}) g"
            ),
            format!(
                "INSERT INTO journal_lines (id, entry_id, account_id, order_id, amount) \
                 SELECT md5('d' || g)::uuid, md5('e' || g)::uuid, '{clearing}'::uuid, md5('o' || g)::uuid, 1000 + g % 500 FROM generate_series(1, {orders}) g \
                 UNION ALL \
                 SELECT md5('c' || g)::uuid, md5('e' || g)::uuid, '{escrow}'::uuid, md5('o' || g)::uuid, -(1000 + g % 500) FROM generate_series(1, {orders}) g"
            ),
            "ANALYZE".to_owned(),
        ];
        for statement in fill {
            db.execute_unprepared(&statement).await.unwrap();
        }
        println!(
            "settlement benchmark: {orders} completed orders paid into escrow (filled in {:.1} s), batches of {batch}, {rounds} rounds, PostgreSQL\n",
            started.elapsed().as_secs_f64()
        );
        let at = chrono::Utc::now() + chrono::Duration::days(1);
        let (mut baseline, mut settle, mut verify) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let t = Instant::now();
            db.execute_unprepared(
                "UPDATE orders SET updated_at = now() WHERE status = 'completed'",
            )
            .await
            .unwrap();
            baseline.push(t.elapsed().as_secs_f64());

            let t = Instant::now();
            let mut settled = 0;
            loop {
                let n = anjia::settlement::service::settle_due(&db, &settings.payment, at, batch)
                    .await
                    .unwrap();
                if n == 0 {
                    break;
                }
                settled += n;
            }
            settle.push(t.elapsed().as_secs_f64());
            assert_eq!(settled, orders as usize, "every order settles once");

            let t = Instant::now();
            let report = anjia::ledger::verify(&db).await.unwrap();
            verify.push(t.elapsed().as_secs_f64());
            assert!(report.ok(), "{:#?}", report.problems);
            let available = anjia::ledger::balance(&db, Account::merchant_payable(MerchantId::from_uuid(merchant), CommunityId::from_uuid(community)))
                .await
                .unwrap();
            println!(
                "round {}: baseline {:.2} s, settlement {:.2} s ({:.0} orders/s), verify {:.2} s, merchant balance {available} fen",
                round + 1,
                baseline[round],
                settle[round],
                orders as f64 / settle[round],
                verify[round],
            );
            // Undo the round.
            for undo in [
                "DELETE FROM order_settlements",
                "DELETE FROM journal_lines WHERE entry_id IN (SELECT id FROM journal_entries WHERE kind = 'settlement')",
                "DELETE FROM journal_entries WHERE kind = 'settlement'",
                "UPDATE ledger_accounts SET balance = 0 WHERE kind = 'merchant_payable'",
                "INSERT INTO settlement_queue (order_id, confirmed_at) SELECT id, confirmed_at FROM orders",
                "VACUUM ANALYZE",
            ] {
                db.execute_unprepared(undo).await.unwrap();
            }
        }
        let (b, s, v) = (median(baseline), median(settle), median(verify));
        println!("\n| step | median s | orders per s | vs baseline |");
        println!("|---|---:|---:|---:|");
        println!("| baseline: one UPDATE of the same orders | {b:.2} | {:.0} | 1× |", orders as f64 / b);
        println!("| settlement job (batches of {batch}) | {s:.2} | {:.0} | {:.1}× |", orders as f64 / s, s / b);
        println!("| ledger verify afterwards | {v:.2} | | |");
        println!("\naim: settlement of 100,000 orders in ≤ 10 s: {}", if s <= 10.0 { "met" } else { "NOT met" });
        db.close().await.unwrap();
        bench_db.drop().await;
    });
}
