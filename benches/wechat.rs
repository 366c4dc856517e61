//! Safe-mode WeChat callbacks: an encrypted text message in, an encrypted
//! passive reply out, against a bare actix-web hello route in the same run.
//!
//!     cargo bench --bench wechat
//!
//! Every request is a distinct message (its own MsgId, nonce and ciphertext),
//! so each one goes through the whole path: signature and clock check, AES
//! decrypt, XML parse, the shared de-duplication claim (a database write),
//! the keyword reply, storing the reply for retries, AES encrypt, signing.
//!
//! Environment: BENCH_SECS (default 3), BENCH_ROUNDS (default 5),
//! BENCH_CONNECTIONS (default 64), BENCH_POOL (database pool, default 16),
//! ANJIA_BENCH_DATABASE_URL (default: a temporary SQLite file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use anjia::startup::Application;
use anjia::wechat::crypto::{MsgCrypt, sha1_sorted};
use support::{Target, env_or, hello_server, run_rounds};

// Test-only values.
const APP_ID: &str = "wxbench000000001";
const TOKEN: &str = "bench-callback-token";
const AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn messages(port: u16, keyword: &str, count: usize, tag: u64) -> Vec<Vec<u8>> {
    let crypt = MsgCrypt::new(AES_KEY, APP_ID).unwrap();
    let ts = chrono::Utc::now().timestamp().to_string();
    let _ = port;
    (0..count)
        .map(|i| {
            let msg_id = tag * 100_000_000 + i as u64;
            let inner = format!(
                "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[o_bench_{}]]></FromUserName>\
                 <CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{keyword}]]></Content>\
                 <MsgId>{msg_id}</MsgId></xml>",
                i % 1000
            );
            let encrypt = crypt.encrypt(&inner);
            let nonce = format!("{msg_id}");
            let signature = sha1_sorted(&[TOKEN, &ts, &nonce]);
            let msg_signature = sha1_sorted(&[TOKEN, &ts, &nonce, &encrypt]);
            let body = format!(
                "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
            );
            let path = format!(
                "/wechat/callback?signature={signature}&timestamp={ts}&nonce={nonce}&openid=o_bench&encrypt_type=aes&msg_signature={msg_signature}"
            );
            let mut request = format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(body.as_bytes());
            request
        })
        .collect()
}

fn main() {
    let secs: u64 = env_or("BENCH_SECS", 3);
    let rounds: usize = env_or("BENCH_ROUNDS", 5);
    let connections: usize = env_or("BENCH_CONNECTIONS", 64);
    let pool: usize = env_or("BENCH_MESSAGES", 400_000);
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
        settings.server.workers = 0;
        settings.wechat.app_id = APP_ID.into();
        settings.wechat.token = TOKEN.to_owned().into();
        settings.wechat.encoding_aes_key = AES_KEY.to_owned().into();
        settings.wechat.api_base = "http://127.0.0.1:9".into();
        // The server gets a runtime of its own, as `anjia serve` has: its
        // database I/O and background tasks do not queue behind the load
        // generator's tasks.
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let app = Application::build(settings).await.unwrap();
                port_tx.send(app.port()).unwrap();
                app.run().await.unwrap();
            });
        });
        let anjia_port = port_rx.recv().unwrap();
        let hello_port = hello_server();

        let help = Target::pool("safe-mode 帮助 → encrypted reply", anjia_port, messages(anjia_port, "帮助", pool, 1));
        // Check one by hand: a 200 with an encrypted envelope.
        let probe = messages(anjia_port, "帮助", 1, 9);
        let answer = support::one_request(anjia_port, std::str::from_utf8(&probe[0]).unwrap()).await;
        assert!(String::from_utf8_lossy(&answer).contains("<Encrypt>"), "{}", String::from_utf8_lossy(&answer));

        let targets = vec![
            Target::get("hello (bare actix-web)", hello_port, "/", None),
            help,
        ];
        let engine = if url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" };
        println!(
            "anjia WeChat callback benchmark: {connections} connections, {rounds} rounds x {secs}s per target, database {engine}"
        );
        let results = run_rounds(&targets, connections, Duration::from_secs(secs), rounds).await;
        support::report(&results, 0);
        let used = targets[1].used();
        println!(
            "\n{used} distinct messages sent of a pool of {pool}{}",
            if used > pool { " (the pool wrapped: later requests were retries)" } else { "" }
        );
    });
}
