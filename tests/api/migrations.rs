use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::helpers::{TestDb, config_dir, spawn_app_on};

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
    let test_db = TestDb::new().await;
    let db = Database::connect(&test_db.url).await.unwrap();
    anjia::db::migrate_up(&db).await.unwrap();
    let first = schema(&db).await;
    assert!(first.iter().any(|i| i.contains("communities")), "{first:?}");

    anjia::db::migrate_down(&db, None).await.unwrap();
    assert_eq!(
        schema(&db).await,
        Vec::<String>::new(),
        "down left tables behind"
    );
    assert!(
        anjia::db::migration_status(&db)
            .await
            .unwrap()
            .iter()
            .all(|(_, applied)| !applied)
    );

    anjia::db::migrate_up(&db).await.unwrap();
    assert_eq!(schema(&db).await, first);
    assert!(anjia::db::pending_migrations(&db).await.unwrap().is_empty());
    db.close().await.ok();
}

#[tokio::test]
async fn two_instances_starting_together_on_one_database_both_come_up() {
    let test_db = Arc::new(TestDb::new().await);
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
    let test_db = TestDb::new().await;
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
    let app = crate::helpers::spawn_app().await;
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
