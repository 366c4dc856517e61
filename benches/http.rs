//! HTTP throughput of anjia against a bare actix-web hello route, measured in
//! the same run on the same machine (the machine is shared and noisy, so only
//! ratios within one run mean anything).
//!
//!     cargo bench --bench http
//!
//! Environment: BENCH_SECS (seconds per round, default 3), BENCH_ROUNDS
//! (default 5), BENCH_CONNECTIONS (default 64), ANJIA_BENCH_DATABASE_URL
//! (default: a temporary SQLite file).
//!
//! Rounds alternate between targets (hello, /health, /api/v1/me, hello, ...)
//! so drift in machine load hits all of them alike; the report gives the
//! median round of each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use anjia::startup::Application;
use support::{Target, env_or, hello_server, run_rounds};

fn main() {
    let secs: u64 = env_or("BENCH_SECS", 3);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let connections: usize = env_or("BENCH_CONNECTIONS", 64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let url = std::env::var("ANJIA_BENCH_DATABASE_URL").unwrap_or_else(|_| {
            format!("sqlite://{}/bench.db?mode=rwc", dir.path().display())
        });
        let mut settings = support::dev_settings();
        settings.database.url = url.clone();
        settings.database.max_connections = env_or("BENCH_POOL", 16);
        settings.server.port = 0;
        settings.server.workers = 0; // one per core, as in production
        let app = Application::build(settings).await.unwrap();
        let anjia_port = app.port();
        tokio::spawn(app.run());

        let hello_port = hello_server();

        // A signed-in user for /api/v1/me.
        let login = reqwest_free_login(anjia_port).await;

        let targets = vec![
            Target::get("hello (bare actix-web)", hello_port, "/", None),
            Target::get("GET /health", anjia_port, "/health", None),
            Target::get("GET /api/v1/me", anjia_port, "/api/v1/me", Some(&login)),
        ];
        let engine = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
        println!(
            "anjia HTTP benchmark: {connections} connections, {rounds} rounds x {secs}s per target, database {engine}"
        );
        let results = run_rounds(&targets, connections, Duration::from_secs(secs), rounds).await;
        support::report(&results, 0);
    });
}

/// Signs in through the development login with the loader's own client.
async fn reqwest_free_login(port: u16) -> String {
    let body = r#"{"display_name":"bench","phone":"13800009999"}"#;
    let response = support::one_request(
        port,
        &format!(
            "POST /api/v1/dev/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    let json: serde_json::Value = serde_json::from_slice(&response).unwrap();
    json["access_token"].as_str().unwrap().to_owned()
}
