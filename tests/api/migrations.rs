use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::support::{TestDb, config_dir, spawn_app_on};

async fn schema(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS item \
               FROM information_schema.columns WHERE table_schema = 'public' \
             UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
             UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
               WHERE connamespace = 'public'::regnamespace \
             ORDER BY 1"
        }
        _ => {
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS item FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "item").unwrap())
        .filter(|item| !item.contains("seaql_migrations"))
        .collect()
}

#[tokio::test]
async fn every_migration_runs_up_down_and_up_again_to_the_same_schema() {
    let test_db = TestDb::empty().await;
    let db = Database::connect(&test_db.url).await.unwrap();
    anjia::kernel::db::migrate_up(&db).await.unwrap();
    let first = schema(&db).await;
    assert!(first.iter().any(|i| i.contains("communities")), "{first:?}");

    anjia::kernel::db::migrate_down(&db, None).await.unwrap();
    assert_eq!(
        schema(&db).await,
        Vec::<String>::new(),
        "down left tables behind"
    );
    assert!(
        anjia::kernel::db::migration_status(&db)
            .await
            .unwrap()
            .iter()
            .all(|(_, applied)| !applied)
    );

    anjia::kernel::db::migrate_up(&db).await.unwrap();
    assert_eq!(schema(&db).await, first);
    assert!(
        anjia::kernel::db::pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
    db.close().await.ok();
}

#[tokio::test]
async fn two_instances_starting_together_on_one_database_both_come_up() {
    let test_db = Arc::new(TestDb::empty().await);
    let (a, b) = tokio::join!(
        spawn_app_on(test_db.clone(), |_| {}),
        spawn_app_on(test_db.clone(), |_| {}),
    );
    for app in [&a, &b] {
        assert_eq!(app.get("/ready", None).await.status(), 200);
    }
    // A user made through one instance signs in through the other.
    let session = a.resident().await;
    assert_eq!(
        b.get("/api/v1/me", Some(&session.access)).await.status(),
        200
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(url: &str, port: u16) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_anjia"))
            .arg("serve")
            .env("ANJIA_ENV", "test")
            .env("ANJIA_CONFIG_DIR", config_dir())
            .env("ANJIA__DATABASE__URL", url)
            .env("ANJIA__SERVER__PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_ready(port: u16) -> bool {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/ready"))
            .send()
            .await
            && res.status() == 200
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn two_server_processes_started_at_the_same_moment_both_migrate_and_serve() {
    let test_db = TestDb::empty().await;
    let (p1, p2) = (free_port(), free_port());
    let _first = start_server(&test_db.url, p1);
    let _second = start_server(&test_db.url, p2);
    let (r1, r2) = tokio::join!(wait_ready(p1), wait_ready(p2));
    assert!(r1 && r2, "ready: first {r1}, second {r2}");
}

#[tokio::test]
async fn the_server_s_postgresql_connections_run_without_jit() {
    // JIT compiling a prepared statement's generic plan cost 40–90 ms per
    // search on PostgreSQL; the pool turns it off. (SQLite has no JIT.)
    let app = crate::support::spawn_app().await;
    let db = &app.state.db;
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SHOW jit"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "jit").unwrap(), "off");
}

#[tokio::test]
async fn orders_settled_before_the_settlement_queue_keep_their_settlement_and_waiting_ones_are_queued()
 {
    use anjia::ledger::{self, Account, Entry};
    use chrono::Utc;
    use entity::{CommunityId, Fen, JournalKind, MerchantId, OrderId};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = crate::support::spawn_app().await;
    let w = crate::support::fixtures::world(&app, 1).await;
    let (owner, shop, _) = crate::support::fixtures::shop(&app, &w).await;
    let db = &app.db;
    // Back to the schema before migration 22: settled orders marked on
    // `orders.settled_at`, one settlement entry per order, and a merchant's
    // one balance for all its communities.
    let since = 1 + crate::support::migrations_after("m20261123_000022_settlement_queue");
    anjia::kernel::db::migrate_down(db, Some(since))
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let community = CommunityId::from_uuid(w.community);
    let merchant: MerchantId = shop.parse().unwrap();
    let resident = &w.residents[0];
    let household = entity::household_member::Entity::find()
        .filter(entity::household_member::Column::UserId.eq(resident.user_id))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .household_id;
    let now = Utc::now();
    let day = chrono::Duration::days(1);
    // (order, amount, settled): settled with its entry, settled holding
    // nothing (no entry), and completed but not yet settled.
    let orders = [
        (OrderId::new(), 10_000i64, true),
        (OrderId::new(), 0, true),
        (OrderId::new(), 5_000, false),
    ];
    for (n, (id, amount, settled)) in orders.iter().enumerate() {
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            anjia::kernel::db::sql(
                backend,
                "INSERT INTO orders (id, order_no, community_id, merchant_id, user_id, household_id, \
                 status, amount, payment_method, paid_at, payment_deadline, fulfilment, address, \
                 client_ip, user_agent, client_kind, fulfilled_at, confirmed_at, settled_at, \
                 created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7, $8, $9, $10, 'delivery', '1号楼 101', \
                 '127.0.0.1', 'test', 'other', $11, $12, $13, $14, $14)",
            ),
            [
                id.as_uuid().into(),
                format!("L{n:019}").into(),
                w.community.into(),
                merchant.as_uuid().into(),
                resident.user_id.into(),
                household.as_uuid().into(),
                (*amount).into(),
                (*amount > 0).then_some("sandbox").into(),
                (*amount > 0).then_some(now - day * 3).into(),
                (now - day * 3).into(),
                (now - day * 3).into(),
                (now - day * 2).into(),
                settled.then_some(now - day).into(),
                (now - day * 3).into(),
            ],
        ))
        .await
        .unwrap();
        let held = Fen::new(*amount).unwrap();
        ledger::post(
            db,
            Entry::new(JournalKind::Payment, format!("payment:{id}"))
                .order(community, *id)
                .debit(Account::wechat_clearing(), held)
                .credit(Account::escrow(community), held),
        )
        .await
        .unwrap();
        if *settled {
            // 2.5% to the property, the rest to the merchant.
            let commission = Fen::new(amount / 40).unwrap();
            ledger::post(
                db,
                Entry::new(JournalKind::Settlement, format!("settlement:{id}"))
                    .order(community, *id)
                    .debit(Account::escrow(community), held)
                    .credit(Account::property_revenue(community), commission)
                    .credit(
                        Account::merchant_wide(
                            entity::LedgerAccountKind::MerchantPayable,
                            merchant,
                        ),
                        held.checked_sub(commission).unwrap(),
                    ),
            )
            .await
            .unwrap();
        }
    }

    anjia::kernel::db::migrate_up(db).await.unwrap();
    let report = ledger::verify(db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    let settlements = entity::order_settlement::Entity::find()
        .all(db)
        .await
        .unwrap();
    let of = |id: OrderId| settlements.iter().find(|s| s.order_id == id).cloned();
    let paid = of(orders[0].0).expect("the settled order keeps its settlement");
    assert_eq!(
        (
            paid.gross.as_i64(),
            paid.commission.as_i64(),
            paid.merchant_id
        ),
        (10_000, 250, Some(merchant))
    );
    assert!(paid.entry_id.is_some());
    let free = of(orders[1].0).expect("the order that held nothing is settled too");
    assert_eq!((free.gross.as_i64(), free.entry_id), (0, None));
    assert!(of(orders[2].0).is_none());
    let queued: Vec<OrderId> = entity::settlement_queue::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.order_id)
        .collect();
    assert_eq!(queued, vec![orders[2].0], "only the unsettled one waits");
    assert_eq!(
        ledger::escrow_of(db, community, orders[0].0).await.unwrap(),
        0
    );
    assert_eq!(
        ledger::escrow_of(db, community, orders[2].0).await.unwrap(),
        5_000
    );

    // The waiting one settles in a batch entry beside the old per-order ones.
    let settled =
        anjia::settlement::service::settle_due(db, &app.state.settings.payment, now + day, 100)
            .await
            .unwrap();
    assert_eq!(settled, 1);
    assert_eq!(
        ledger::escrow_of(db, community, orders[2].0).await.unwrap(),
        0
    );
    let report = ledger::verify(db).await.unwrap();
    assert!(report.ok(), "{:#?}", report.problems);
    let balance = app
        .get(
            &format!("/api/v1/merchants/{shop}/balance"),
            Some(&owner.access),
        )
        .await;
    let balance: serde_json::Value = balance.json().await.unwrap();
    assert_eq!(
        balance["communities"][0]["available"],
        9_750 + 5_000,
        "{balance}"
    );
    // Once orders have settled in batches the schema cannot go back.
    assert!(
        anjia::kernel::db::migrate_down(db, Some(since))
            .await
            .is_err()
    );
}
